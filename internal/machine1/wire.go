package machine1

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/godbus/dbus/v5"
)

// The wire encoder marshals method replies in the D-Bus format itself:
// godbus's encoder allocates for every value and runs twice per message
// (once to count file descriptors), which made a 1,000-row ListMachines
// reply cost milliseconds. This one appends to one buffer and validates
// what the bus daemon validates (UTF-8 strings without NUL, object path
// syntax, nesting and array limits), so the daemon never drops us for a
// malformed message.

// wireOrder is the byte order the encoder writes in, and wireOrderByte
// the header byte that names it.
var (
	wireOrder     = binary.LittleEndian
	wireOrderByte = byte('l')
)

// Limits from the D-Bus specification.
const (
	maxWireArray   = 64 << 20
	maxWireMessage = 128 << 20
	maxWireDepth   = 64
)

// Header fields and message type of a reply.
const (
	wireMethodReturn  = 2
	wireSignal        = 4
	wireFieldReply    = 5
	wireFieldDest     = 6
	wireFieldSig      = 8
	wireFieldUnixFDs  = 9
	wireProtoVersion  = 1
	wireHeaderFixed   = 12
	wireBodyAlignment = 8
)

var (
	wireObjectPathType = reflect.TypeOf(dbus.ObjectPath(""))
	wireSignatureType  = reflect.TypeOf(dbus.Signature{})
	wireVariantType    = reflect.TypeOf(dbus.Variant{})
	wireUnixFDType     = reflect.TypeOf(dbus.UnixFD(0))
)

// wireEncoder appends values to buf. Positions are relative to the start
// of buf, which must sit at an 8-byte boundary of the message.
type wireEncoder struct {
	buf []byte
	fds []int
}

// wireError is an encoding failure; encode panics with it and body
// recovers.
type wireError struct{ err error }

func (e *wireEncoder) fail(format string, args ...any) {
	panic(wireError{fmt.Errorf("encode reply: "+format, args...)})
}

func (e *wireEncoder) align(n int) {
	for len(e.buf)%n != 0 {
		e.buf = append(e.buf, 0)
	}
}

func (e *wireEncoder) u32(v uint32) {
	e.align(4)
	e.buf = wireOrder.AppendUint32(e.buf, v)
}

func (e *wireEncoder) str(s string, path bool) {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		e.fail("string is not UTF-8 without NUL")
	}
	if path && !validObjectPath(s) {
		e.fail("invalid object path %q", s)
	}
	e.u32(uint32(len(s)))
	e.buf = append(append(e.buf, s...), 0)
}

func (e *wireEncoder) sig(s string) {
	if len(s) > 255 {
		e.fail("signature too long")
	}
	e.buf = append(append(append(e.buf, byte(len(s))), s...), 0)
}

// encoded is a ListMachines reply body in wire format, encoded once per
// registry generation; its signature is machineListSig.
type encoded struct{ body []byte }

// machineListSig is the signature of ListMachines' reply.
const machineListSig = "a(ssso)"

var encodedType = reflect.TypeOf(encoded{})

// encodeBody encodes values as a message body and returns it with the
// file descriptors it refers to. A body of one encoded value is that
// value's bytes, not copied.
func encodeBody(values []any) (body []byte, fds []int, err error) {
	if len(values) == 1 {
		if x, ok := values[0].(encoded); ok {
			return x.body, nil, nil
		}
	}
	e := wireEncoder{}
	defer func() {
		if r := recover(); r != nil {
			we, ok := r.(wireError)
			if !ok {
				panic(r)
			}
			body, fds, err = nil, nil, we.err
		}
	}()
	for _, v := range values {
		e.value(reflect.ValueOf(v), 0)
	}
	return e.buf, e.fds, nil
}

// value encodes v, whose signature is dbus.SignatureOfType(v.Type()).
func (e *wireEncoder) value(v reflect.Value, depth int) {
	if depth > maxWireDepth {
		e.fail("values nested too deeply")
	}
	if !v.IsValid() {
		e.fail("nil value")
	}
	switch v.Kind() {
	case reflect.Uint8:
		e.buf = append(e.buf, byte(v.Uint()))
	case reflect.Bool:
		b := uint32(0)
		if v.Bool() {
			b = 1
		}
		e.u32(b)
	case reflect.Int16:
		e.align(2)
		e.buf = wireOrder.AppendUint16(e.buf, uint16(v.Int()))
	case reflect.Uint16:
		e.align(2)
		e.buf = wireOrder.AppendUint16(e.buf, uint16(v.Uint()))
	case reflect.Int, reflect.Int32:
		e.int32(v)
	case reflect.Uint, reflect.Uint32:
		e.u32(uint32(v.Uint()))
	case reflect.Int64, reflect.Uint64, reflect.Float64:
		e.align(8)
		e.buf = wireOrder.AppendUint64(e.buf, wide(v))
	case reflect.String:
		e.str(v.String(), v.Type() == wireObjectPathType)
	case reflect.Pointer:
		e.value(v.Elem(), depth)
	case reflect.Slice, reflect.Array:
		e.array(v, depth)
	case reflect.Map:
		e.dict(v, depth)
	case reflect.Struct:
		e.structure(v, depth)
	case reflect.Interface:
		e.variant(dbus.MakeVariant(v.Interface()), depth)
	default:
		e.fail("cannot encode %s", v.Type())
	}
}

func (e *wireEncoder) int32(v reflect.Value) {
	if v.Type() == wireUnixFDType {
		e.u32(uint32(len(e.fds)))
		e.fds = append(e.fds, int(v.Int()))
		return
	}
	e.u32(uint32(int32(v.Int())))
}

// wide returns the bits of a 64-bit integer or float.
func wide(v reflect.Value) uint64 {
	switch v.Kind() {
	case reflect.Int64:
		return uint64(v.Int())
	case reflect.Float64:
		return math.Float64bits(v.Float())
	}
	return v.Uint()
}

// array encodes a slice or array: a length, padding to the element
// alignment (even when empty), the elements.
func (e *wireEncoder) array(v reflect.Value, depth int) {
	e.align(4)
	at := len(e.buf)
	e.buf = append(e.buf, 0, 0, 0, 0)
	e.align(wireAlignment(v.Type().Elem()))
	start := len(e.buf)
	if v.Type().Elem().Kind() == reflect.Uint8 && v.Kind() == reflect.Slice {
		e.buf = append(e.buf, v.Bytes()...)
	} else {
		for i := 0; i < v.Len(); i++ {
			e.value(v.Index(i), depth+1)
		}
	}
	e.patchLength(at, start)
}

func (e *wireEncoder) patchLength(at, start int) {
	n := len(e.buf) - start
	if n > maxWireArray {
		e.fail("array of %d bytes", n)
	}
	wireOrder.PutUint32(e.buf[at:], uint32(n))
}

// dict encodes a map as an array of dict entries.
func (e *wireEncoder) dict(v reflect.Value, depth int) {
	e.align(4)
	at := len(e.buf)
	e.buf = append(e.buf, 0, 0, 0, 0)
	e.align(8)
	start := len(e.buf)
	it := v.MapRange()
	for it.Next() {
		e.align(8)
		e.value(it.Key(), depth+2)
		e.value(it.Value(), depth+2)
	}
	e.patchLength(at, start)
}

func (e *wireEncoder) structure(v reflect.Value, depth int) {
	switch v.Type() {
	case wireSignatureType:
		e.sig(v.Interface().(dbus.Signature).String())
		return
	case wireVariantType:
		e.variant(v.Interface().(dbus.Variant), depth)
		return
	case encodedType:
		e.fail("an encoded body must be the only value")
	}
	e.align(8)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.PkgPath == "" && f.Tag.Get("dbus") != "-" {
			e.value(v.Field(i), depth+1)
		}
	}
}

func (e *wireEncoder) variant(x dbus.Variant, depth int) {
	e.sig(x.Signature().String())
	e.value(reflect.ValueOf(x.Value()), depth+1)
}

// wireAlignment is the alignment of values of Go type t on the wire.
func wireAlignment(t reflect.Type) int {
	switch t {
	case wireSignatureType, wireVariantType:
		return 1
	}
	switch t.Kind() {
	case reflect.Uint8:
		return 1
	case reflect.Int16, reflect.Uint16:
		return 2
	case reflect.Int64, reflect.Uint64, reflect.Float64, reflect.Struct:
		return 8
	case reflect.Pointer:
		return wireAlignment(t.Elem())
	case reflect.Interface:
		return 1
	}
	return 4
}

// validObjectPath reports whether p has the D-Bus object path syntax.
func validObjectPath(p string) bool {
	if p == "/" {
		return true
	}
	if len(p) < 2 || p[0] != '/' || p[len(p)-1] == '/' {
		return false
	}
	prev := byte('/')
	for i := 1; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			if prev == '/' {
				return false
			}
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return false
		}
		prev = c
	}
	return true
}

// replyHeader returns the header of a METHOD_RETURN message for the call
// with replySerial from dest, whose body (of signature sig, referring to
// nfds file descriptors) has bodyLen bytes; the body follows it
// directly.
func replyHeader(serial, replySerial uint32, dest string, sig dbus.Signature, bodyLen, nfds int) ([]byte, error) {
	return messageHeader(wireMethodReturn, serial, bodyLen, 64+len(dest)+len(sig.String()), func(e *wireEncoder) {
		e.field(wireFieldReply, "u", func() { e.u32(replySerial) })
		if dest != "" {
			e.field(wireFieldDest, "s", func() { e.str(dest, false) })
		}
		if s := sig.String(); s != "" {
			e.field(wireFieldSig, "g", func() { e.sig(s) })
		}
		if nfds > 0 {
			e.field(wireFieldUnixFDs, "u", func() { e.u32(uint32(nfds)) })
		}
	})
}

// signalHeader returns the header of a SIGNAL message member of iface
// from path, whose body (of signature sig) has bodyLen bytes.
func signalHeader(serial uint32, path dbus.ObjectPath, iface, member string, sig dbus.Signature, bodyLen int) ([]byte, error) {
	return messageHeader(wireSignal, serial, bodyLen, 64+len(path)+len(iface)+len(member), func(e *wireEncoder) {
		e.field(hdrPath, "o", func() { e.str(string(path), true) })
		e.field(hdrInterface, "s", func() { e.str(iface, false) })
		e.field(hdrMember, "s", func() { e.str(member, false) })
		if s := sig.String(); s != "" {
			e.field(wireFieldSig, "g", func() { e.sig(s) })
		}
	})
}

// messageHeader returns the header of a message of type typ whose body
// has bodyLen bytes, with the header fields fields appends (size is a
// guess of the header's length).
func messageHeader(typ byte, serial uint32, bodyLen, size int, fields func(e *wireEncoder)) (h []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			we, ok := r.(wireError)
			if !ok {
				panic(r)
			}
			err = we.err
		}
	}()
	e := wireEncoder{buf: make([]byte, 0, size)}
	e.buf = append(e.buf, wireOrderByte, typ, 0, wireProtoVersion)
	e.buf = wireOrder.AppendUint32(e.buf, uint32(bodyLen))
	e.buf = wireOrder.AppendUint32(e.buf, serial)
	at := len(e.buf)
	e.buf = append(e.buf, 0, 0, 0, 0)
	start := len(e.buf)
	fields(&e)
	e.patchLength(at, start)
	e.align(wireBodyAlignment)
	if len(e.buf)+bodyLen > maxWireMessage {
		e.fail("message of %d bytes is too long", len(e.buf)+bodyLen)
	}
	return e.buf, nil
}

// field appends one header field: a (yv) struct.
func (e *wireEncoder) field(code byte, sig string, value func()) {
	e.align(8)
	e.buf = append(e.buf, code)
	e.sig(sig)
	value()
}
