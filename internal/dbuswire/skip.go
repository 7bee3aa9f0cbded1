package dbuswire

import "unsafe"

// Nesting limits of the D-Bus specification: a signature nests at most
// maxArrayDepth arrays and maxStructDepth structs (dict entries count as
// structs), and a value is inside at most maxDepth containers in all,
// variants included.
const (
	maxArrayDepth  = 32
	maxStructDepth = 32
	maxDepth       = 64
)

// Skip reads past one value of type sig, which must be a single complete
// type, checking it as strictly as the other reads do (lengths, padding,
// strings UTF-8 without NUL, object paths, signatures, booleans 0 or 1,
// the nesting limits), so a reader can pass over the values it does not
// want without building them. The containers around the value, which
// the decoder does not know of, do not count toward the nesting limit.
// A bad signature or value sets the decoder's error.
func (d *Decoder) Skip(sig string) { d.skipTyped(sig, 0) }

// skipTyped skips a value of type sig inside outer containers, after
// checking that sig is one complete type and that the value nests no
// deeper than maxDepth.
func (d *Decoder) skipTyped(sig string, outer int) {
	if d.err != nil {
		return
	}
	n, depth := completeType(sig, 0, 0)
	switch {
	case n == 0 || n != len(sig):
		d.err = malformed("signature %q is not one complete type", sig)
	case outer+depth > maxDepth:
		d.err = malformed("value of type %q nested in %d containers", sig, outer)
	default:
		d.skipValue(sig, outer)
	}
}

// skipValue skips a value of the complete type sig, which is known to be
// valid, inside depth containers.
func (d *Decoder) skipValue(sig string, depth int) {
	switch sig[0] {
	case 'y':
		d.Byte()
	case 'n', 'q':
		d.skipFixed(2)
	case 'i', 'u', 'h':
		d.Uint32()
	case 'x', 't', 'd':
		d.skipFixed(8)
	case 'b':
		if v := d.Uint32(); v > 1 {
			d.err = malformed("boolean %d", v)
		}
	case 's':
		d.strBytes()
	case 'o':
		if b := d.strBytes(); d.err == nil && !ValidObjectPath(alias(b)) {
			d.err = malformed("object path %q", b)
		}
	case 'g':
		if b := d.sigBytes(); d.err == nil && !validSignature(alias(b)) {
			d.err = malformed("signature %q", b)
		}
	case 'v':
		d.skipTyped(alias(d.sigBytes()), depth+1)
	case 'a':
		d.skipArray(sig[1:], depth)
	case '(', '{':
		d.Align(8)
		for fields := sig[1 : len(sig)-1]; fields != "" && d.err == nil; {
			n, _ := completeType(fields, 0, 0)
			d.skipValue(fields[:n], depth+1)
			fields = fields[n:]
		}
	}
}

// skipFixed skips a number of n bytes, aligned to n.
func (d *Decoder) skipFixed(n int) {
	if d.Align(n); d.need(n) {
		d.off += n
	}
}

// skipArray skips an array of elements of type elem: at once if they are
// numbers of a fixed size, else one by one, each within the array's
// length.
func (d *Decoder) skipArray(elem string, depth int) {
	a := d.Array(alignOf(elem[0]))
	if size := fixedSize(elem[0]); size > 0 {
		if d.err == nil && a.Len()%size != 0 {
			d.err = malformed("array of %d bytes of %d-byte elements", a.Len(), size)
		}
		return
	}
	for a.Len() > 0 && a.err == nil {
		a.skipValue(elem, depth+1)
	}
	if d.err == nil {
		d.err = a.err
	}
}

// alias returns b as a string without copying it.
func alias(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// alignOf returns the alignment of the values of the type that starts
// with code c.
func alignOf(c byte) int {
	switch c {
	case 'n', 'q':
		return 2
	case 'b', 'i', 'u', 'h', 's', 'o', 'a':
		return 4
	case 'x', 't', 'd', '(', '{':
		return 8
	}
	return 1
}

// fixedSize returns the size of the numbers of type c, 0 for every other
// type (booleans too, whose values are checked).
func fixedSize(c byte) int {
	switch c {
	case 'y':
		return 1
	case 'n', 'q':
		return 2
	case 'i', 'u', 'h':
		return 4
	case 'x', 't', 'd':
		return 8
	}
	return 0
}

// isBasic reports whether c is the code of a basic type.
func isBasic(c byte) bool {
	switch c {
	case 'y', 'b', 'n', 'q', 'i', 'u', 'x', 't', 'd', 'h', 's', 'o', 'g':
		return true
	}
	return false
}

// completeType returns the length of the complete type sig starts with
// and the number of containers it nests (a variant counts as one), or
// n == 0 if sig does not start with a valid one inside arrays arrays and
// structs structs of its signature.
func completeType(sig string, arrays, structs int) (n, depth int) {
	switch {
	case sig == "":
		return 0, 0
	case isBasic(sig[0]):
		return 1, 0
	case sig[0] == 'v':
		return 1, 1
	case sig[0] == 'a' && arrays < maxArrayDepth:
		if len(sig) > 1 && sig[1] == '{' {
			n, depth = dictEntry(sig[1:], arrays+1, structs)
		} else {
			n, depth = completeType(sig[1:], arrays+1, structs)
		}
		if n == 0 {
			return 0, 0
		}
		return n + 1, depth + 1
	case sig[0] == '(' && structs < maxStructDepth:
		i := 1
		for i < len(sig) && sig[i] != ')' {
			n, fd := completeType(sig[i:], arrays, structs+1)
			if n == 0 {
				return 0, 0
			}
			i, depth = i+n, max(depth, fd)
		}
		if i == 1 || i == len(sig) {
			return 0, 0
		}
		return i + 1, depth + 1
	}
	return 0, 0
}

// dictEntry is completeType of a dict entry, "{" a basic type, a
// complete type and "}", which only an array's element may be.
func dictEntry(sig string, arrays, structs int) (n, depth int) {
	if structs == maxStructDepth || len(sig) < 4 || !isBasic(sig[1]) {
		return 0, 0
	}
	n, depth = completeType(sig[2:], arrays, structs+1)
	if n == 0 || len(sig) < n+3 || sig[n+2] != '}' {
		return 0, 0
	}
	return n + 3, depth + 1
}

// validSignature reports whether sig is a SIGNATURE value: complete
// types, none of them too deeply nested.
func validSignature(sig string) bool {
	for sig != "" {
		n, _ := completeType(sig, 0, 0)
		if n == 0 {
			return false
		}
		sig = sig[n:]
	}
	return true
}
