package machine1

import (
	"fmt"
	"math"
	"reflect"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/dbuswire"
)

// The wire encoder marshals method replies in the D-Bus format itself:
// godbus's encoder allocates for every value and runs twice per message
// (once to count file descriptors), which made a 1,000-row ListMachines
// reply cost milliseconds. This one walks the values by reflection and
// appends them to one buffer with dbuswire's Encoder, validating what
// the bus daemon validates (UTF-8 strings without NUL, object path
// syntax, nesting and array limits), so the daemon never drops us for a
// malformed message.

// maxWireDepth is the D-Bus specification's limit of nesting.
const maxWireDepth = 64

var (
	wireObjectPathType = reflect.TypeOf(dbus.ObjectPath(""))
	wireSignatureType  = reflect.TypeOf(dbus.Signature{})
	wireVariantType    = reflect.TypeOf(dbus.Variant{})
	wireUnixFDType     = reflect.TypeOf(dbus.UnixFD(0))
)

// wireEncoder appends values, by reflection, to a body. Positions are
// relative to the start of the body.
type wireEncoder struct {
	dbuswire.Encoder
	fds []int
}

// wireError is an encoding failure; encode panics with it and body
// recovers.
type wireError struct{ err error }

func (e *wireEncoder) fail(format string, args ...any) {
	panic(wireError{fmt.Errorf("encode reply: "+format, args...)})
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
	if x, ok := oneEncoded(values); ok {
		return x.body, nil, nil
	}
	return appendBody(nil, values)
}

// oneEncoded returns the encoded body values consists of, if it does.
func oneEncoded(values []any) (encoded, bool) {
	if len(values) == 1 {
		x, ok := values[0].(encoded)
		return x, ok
	}
	return encoded{}, false
}

// appendBody encodes values, none an encoded body, as a message body
// appended to buf[:0].
func appendBody(buf []byte, values []any) (body []byte, fds []int, err error) {
	e := wireEncoder{Encoder: dbuswire.Encoder{Buf: buf[:0]}}
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
	if err := e.Err(); err != nil {
		return nil, nil, fmt.Errorf("encode reply: %w", err)
	}
	return e.Buf, e.fds, nil
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
		e.Byte(byte(v.Uint()))
	case reflect.Bool:
		b := uint32(0)
		if v.Bool() {
			b = 1
		}
		e.Uint32(b)
	case reflect.Int16:
		e.Uint16(uint16(v.Int()))
	case reflect.Uint16:
		e.Uint16(uint16(v.Uint()))
	case reflect.Int, reflect.Int32:
		e.int32(v)
	case reflect.Uint, reflect.Uint32:
		e.Uint32(uint32(v.Uint()))
	case reflect.Int64, reflect.Uint64, reflect.Float64:
		e.Uint64(wide(v))
	case reflect.String:
		e.str(v)
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
		e.Uint32(uint32(len(e.fds)))
		e.fds = append(e.fds, int(v.Int()))
		return
	}
	e.Uint32(uint32(int32(v.Int())))
}

// str encodes a string or an object path.
func (e *wireEncoder) str(v reflect.Value) {
	if v.Type() == wireObjectPathType {
		e.Path(v.String())
		return
	}
	e.Str(v.String())
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
	if v.Type().Elem().Kind() == reflect.Uint8 && v.Kind() == reflect.Slice {
		e.Bytes(v.Bytes())
		return
	}
	a := e.StartArray(wireAlignment(v.Type().Elem()))
	for i := 0; i < v.Len(); i++ {
		e.value(v.Index(i), depth+1)
	}
	e.EndArray(a)
}

// dict encodes a map as an array of dict entries.
func (e *wireEncoder) dict(v reflect.Value, depth int) {
	a := e.StartArray(8)
	it := v.MapRange()
	for it.Next() {
		e.Align(8)
		e.value(it.Key(), depth+2)
		e.value(it.Value(), depth+2)
	}
	e.EndArray(a)
}

func (e *wireEncoder) structure(v reflect.Value, depth int) {
	switch v.Type() {
	case wireSignatureType:
		e.Sig(v.Interface().(dbus.Signature).String())
		return
	case wireVariantType:
		e.variant(v.Interface().(dbus.Variant), depth)
		return
	case encodedType:
		e.fail("an encoded body must be the only value")
	}
	e.Align(8)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.PkgPath == "" && f.Tag.Get("dbus") != "-" {
			e.value(v.Field(i), depth+1)
		}
	}
}

func (e *wireEncoder) variant(x dbus.Variant, depth int) {
	e.Sig(x.Signature().String())
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

// replyHeader appends to buf[:0] the header of a METHOD_RETURN message
// for the call with replySerial from dest, whose body (of signature sig,
// referring to nfds file descriptors) has bodyLen bytes; the body
// follows it directly.
func replyHeader(buf []byte, serial, replySerial uint32, dest string, sig dbus.Signature, bodyLen, nfds int) ([]byte, error) {
	h := dbuswire.Header{Type: dbuswire.TypeReturn, Serial: serial, ReplySerial: replySerial,
		Destination: dest, Signature: sig.String(), UnixFDs: uint32(nfds)}
	return dbuswire.AppendHeader(buf[:0], &h, bodyLen)
}

// signalHeader appends to buf[:0] the header of a SIGNAL message member
// of iface from path, whose body (of signature sig) has bodyLen bytes.
func signalHeader(buf []byte, serial uint32, path dbus.ObjectPath, iface, member string, sig dbus.Signature, bodyLen int) ([]byte, error) {
	h := dbuswire.Header{Type: dbuswire.TypeSignal, Serial: serial, Path: string(path),
		Interface: iface, Member: member, Signature: sig.String()}
	return dbuswire.AppendHeader(buf[:0], &h, bodyLen)
}
