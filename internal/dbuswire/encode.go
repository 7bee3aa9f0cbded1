package dbuswire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits from the D-Bus specification.
const (
	// MaxArray is the largest array, in bytes.
	MaxArray = 64 << 20
	// MaxMessage is the largest message, in bytes.
	MaxMessage = 128 << 20
)

// Message types.
const (
	TypeCall   = 1
	TypeReturn = 2
	TypeError  = 3
	TypeSignal = 4
)

// FlagNoReplyExpected is the header flag of a call that wants no reply.
const FlagNoReplyExpected = 1

// Header field codes.
const (
	FieldPath        = 1
	FieldInterface   = 2
	FieldMember      = 3
	FieldErrorName   = 4
	FieldReplySerial = 5
	FieldDestination = 6
	FieldSender      = 7
	FieldSignature   = 8
	FieldUnixFDs     = 9
)

// fixedHeader is the length of a message's fixed header, up to the
// array of header fields.
const fixedHeader = 16

// ErrInvalid is wrapped by every encoding error: a value the format
// cannot carry.
var ErrInvalid = errors.New("invalid D-Bus value")

// Encoder appends marshalled values to Buf, little-endian. Alignment
// counts from Buf[Base], which must be the first byte of a message or of
// its body. The first error sticks (Err); later values are still
// appended but the result is not to be sent.
type Encoder struct {
	// Buf holds what was appended.
	Buf []byte
	// Base is the index in Buf where the message starts.
	Base int

	err error
}

// Err is the first encoding error, nil if there was none.
func (e *Encoder) Err() error { return e.err }

func (e *Encoder) fail(format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf("encode: "+format+": %w", append(args, ErrInvalid)...)
	}
}

// Align appends zero bytes up to a multiple of n.
func (e *Encoder) Align(n int) {
	for (len(e.Buf)-e.Base)%n != 0 {
		e.Buf = append(e.Buf, 0)
	}
}

// Byte appends a BYTE.
func (e *Encoder) Byte(v byte) { e.Buf = append(e.Buf, v) }

// Uint16 appends an INT16 or UINT16.
func (e *Encoder) Uint16(v uint16) {
	e.Align(2)
	e.Buf = binary.LittleEndian.AppendUint16(e.Buf, v)
}

// Uint32 appends a BOOLEAN, INT32, UINT32 or UNIX_FD.
func (e *Encoder) Uint32(v uint32) {
	e.Align(4)
	e.Buf = binary.LittleEndian.AppendUint32(e.Buf, v)
}

// Uint64 appends an INT64, UINT64 or DOUBLE.
func (e *Encoder) Uint64(v uint64) {
	e.Align(8)
	e.Buf = binary.LittleEndian.AppendUint64(e.Buf, v)
}

// Str appends a STRING, which must be UTF-8 without NUL.
func (e *Encoder) Str(s string) {
	if !ValidString(s) {
		e.fail("string %q is not UTF-8 without NUL", s)
	}
	e.Uint32(uint32(len(s)))
	e.Buf = append(append(e.Buf, s...), 0)
}

// Path appends an OBJECT_PATH.
func (e *Encoder) Path(p string) {
	if !ValidObjectPath(p) {
		e.fail("invalid object path %q", p)
	}
	e.Uint32(uint32(len(p)))
	e.Buf = append(append(e.Buf, p...), 0)
}

// Sig appends a SIGNATURE (also a VARIANT's signature).
func (e *Encoder) Sig(s string) {
	if len(s) > 255 {
		e.fail("signature of %d bytes", len(s))
		s = ""
	}
	e.Buf = append(append(append(e.Buf, byte(len(s))), s...), 0)
}

// Bytes appends an ARRAY of BYTE.
func (e *Encoder) Bytes(b []byte) {
	a := e.StartArray(1)
	e.Buf = append(e.Buf, b...)
	e.EndArray(a)
}

// Array is an array being appended: where its length goes and where its
// elements start.
type Array struct{ at, start int }

// StartArray appends an array's length (filled in by EndArray) and the
// padding to its elements' alignment, which comes even when the array
// is empty. Dict entries and structs align to 8.
func (e *Encoder) StartArray(elemAlign int) Array {
	e.Uint32(0)
	at := len(e.Buf) - 4
	e.Align(elemAlign)
	return Array{at: at, start: len(e.Buf)}
}

// EndArray fills in the length of a, whose elements were appended since
// StartArray.
func (e *Encoder) EndArray(a Array) {
	n := len(e.Buf) - a.start
	if n > MaxArray {
		e.fail("array of %d bytes", n)
	}
	binary.LittleEndian.PutUint32(e.Buf[a.at:], uint32(n))
}

// Header is a message's header: the fixed part and the header fields
// (an empty string or a zero number is a field left out).
type Header struct {
	Type, Flags byte
	Serial      uint32

	Path, Interface, Member, ErrorName string
	ReplySerial                        uint32
	Destination, Sender, Signature     string
	UnixFDs                            uint32
}

// AppendHeader appends the header of a message whose body has bodyLen
// bytes, padded so that the body follows directly.
func AppendHeader(b []byte, h *Header, bodyLen int) ([]byte, error) {
	e := Encoder{Buf: b, Base: len(b)}
	e.Buf = append(e.Buf, 'l', h.Type, h.Flags, 1)
	e.Uint32(uint32(bodyLen))
	e.Uint32(h.Serial)
	fields := e.StartArray(8)
	if h.Path != "" {
		e.field(FieldPath, "o")
		e.Path(h.Path)
	}
	e.strField(FieldInterface, h.Interface)
	e.strField(FieldMember, h.Member)
	e.strField(FieldErrorName, h.ErrorName)
	e.u32Field(FieldReplySerial, h.ReplySerial)
	e.strField(FieldDestination, h.Destination)
	e.strField(FieldSender, h.Sender)
	if h.Signature != "" {
		e.field(FieldSignature, "g")
		e.Sig(h.Signature)
	}
	e.u32Field(FieldUnixFDs, h.UnixFDs)
	e.EndArray(fields)
	e.Align(8)
	if n := len(e.Buf) - e.Base + bodyLen; n > MaxMessage {
		e.fail("message of %d bytes", n)
	}
	if e.err != nil {
		return b, e.err
	}
	return e.Buf, nil
}

// field appends the code and the variant signature of a header field.
func (e *Encoder) field(code byte, sig string) {
	e.Align(8)
	e.Byte(code)
	e.Sig(sig)
}

func (e *Encoder) strField(code byte, s string) {
	if s != "" {
		e.field(code, "s")
		e.Str(s)
	}
}

func (e *Encoder) u32Field(code byte, v uint32) {
	if v != 0 {
		e.field(code, "u")
		e.Uint32(v)
	}
}

// ValidString reports whether s can be a STRING: UTF-8 without NUL.
func ValidString(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// ValidObjectPath reports whether p has the OBJECT_PATH syntax.
func ValidObjectPath(p string) bool {
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
