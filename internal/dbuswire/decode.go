package dbuswire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
	"unsafe"
)

// ErrMalformed is wrapped by every parsing error.
var ErrMalformed = errors.New("malformed D-Bus message")

// errShort is a message that ends before its values do. Its text is
// built when it is read, so the package costs nothing at process start.
var errShort error = truncatedError{}

type truncatedError struct{}

func (truncatedError) Error() string { return ErrMalformed.Error() + ": truncated" }

func (truncatedError) Unwrap() error { return ErrMalformed }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// byteOrder is the byte order a message's first byte names.
func byteOrder(b byte) (binary.ByteOrder, error) {
	switch b {
	case 'l':
		return binary.LittleEndian, nil
	case 'B':
		return binary.BigEndian, nil
	}
	return nil, malformed("byte order %q", b)
}

func align8(n int) int { return (n + 7) &^ 7 }

// MessageSize returns the length of the message whose first 16 (or
// more) bytes are head.
func MessageSize(head []byte) (int, error) {
	if len(head) < fixedHeader {
		return 0, errShort
	}
	order, err := byteOrder(head[0])
	if err != nil {
		return 0, err
	}
	if head[3] != 1 {
		return 0, malformed("protocol version %d", head[3])
	}
	body, fields := order.Uint32(head[4:]), order.Uint32(head[12:])
	if body > MaxMessage || fields > MaxArray {
		return 0, malformed("%d bytes of header fields, %d of body", fields, body)
	}
	n := align8(fixedHeader+int(fields)) + int(body)
	if n > MaxMessage {
		return 0, malformed("message of %d bytes", n)
	}
	return n, nil
}

// ReadMessage reads one whole message from r; a message longer than
// limit bytes is an error.
func ReadMessage(r io.Reader, limit int) ([]byte, error) {
	return AppendMessage(nil, r, limit)
}

// AppendMessage is ReadMessage into buf[:0], grown if the message needs
// more room, so a reader may reuse one buffer for its messages.
func AppendMessage(buf []byte, r io.Reader, limit int) ([]byte, error) {
	// The fixed header is read into buf itself: an array of its own would
	// escape to the heap through r, once for every message.
	msg := buf[:0]
	if cap(msg) < fixedHeader {
		msg = make([]byte, 0, fixedHeader)
	}
	msg = msg[:fixedHeader]
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	n, err := MessageSize(msg)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, malformed("message of %d bytes, more than %d", n, limit)
	}
	if cap(msg) < n {
		msg = append(make([]byte, 0, n), msg...)
	}
	msg = msg[:n]
	if _, err := io.ReadFull(r, msg[fixedHeader:]); err != nil {
		return nil, err
	}
	return msg, nil
}

// Message is a parsed message.
type Message struct {
	Header
	// Body is the marshalled body; it aliases the bytes parsed.
	Body []byte
	// Order is the byte order of the message.
	Order binary.ByteOrder
}

// Args returns a decoder of m's body.
func (m *Message) Args() Decoder { return NewDecoder(m.Order, m.Body) }

// Parse parses one whole message (of the length MessageSize gives) and
// checks its header fields.
func Parse(msg []byte) (Message, error) {
	var m Message
	n, err := MessageSize(msg)
	if err != nil {
		return m, err
	}
	if n != len(msg) {
		return m, malformed("%d bytes, want %d", len(msg), n)
	}
	m.Order = binary.ByteOrder(binary.LittleEndian)
	if msg[0] == 'B' {
		m.Order = binary.BigEndian
	}
	m.Type, m.Flags, m.Serial = msg[1], msg[2], m.Order.Uint32(msg[8:])
	if m.Type == 0 {
		return m, malformed("message type 0")
	}
	end := fixedHeader + int(m.Order.Uint32(msg[12:]))
	d := Decoder{b: msg[:end], off: fixedHeader, order: m.Order}
	for d.off < end && d.err == nil {
		d.field(&m.Header)
	}
	if d.err != nil {
		return m, d.err
	}
	d = Decoder{b: msg, off: end, order: m.Order}
	if d.Align(8); d.err != nil {
		return m, d.err
	}
	m.Body = msg[align8(end):]
	return m, nil
}

// PathAlias returns the object path of a whole message (its PATH header
// field; "" when it has none) without copying or interning it, for a
// reader that drops most messages of a busy stream before decoding them:
// like StrAlias, the path aliases msg and must not be kept. It checks
// the header's framing but not every field, as Parse does.
func PathAlias(msg []byte) (string, error) {
	n, err := MessageSize(msg)
	if err != nil {
		return "", err
	}
	if n != len(msg) {
		return "", malformed("%d bytes, want %d", len(msg), n)
	}
	order, _ := byteOrder(msg[0])
	d := Decoder{b: msg[:fixedHeader+int(order.Uint32(msg[12:]))], off: fixedHeader, order: order}
	for d.off < len(d.b) && d.err == nil {
		d.Align(8)
		code := d.Byte()
		switch sig := d.sigBytes(); string(sig) {
		case "o", "s":
			if s := d.StrAlias(); code == FieldPath && sig[0] == 'o' {
				return s, d.err
			}
		case "g":
			d.sigBytes()
		case "u":
			d.Uint32()
		default:
			d.err = malformed("header field %d of type %q", code, sig)
		}
	}
	return "", d.err
}

// fieldTypes are the types of the header fields by code.
var fieldTypes = [...]string{FieldPath: "o", FieldInterface: "s", FieldMember: "s", FieldErrorName: "s",
	FieldReplySerial: "u", FieldDestination: "s", FieldSender: "s", FieldSignature: "g", FieldUnixFDs: "u"}

// field reads one header field into h. Fields of unknown codes are
// skipped when they are of a basic type the header uses.
func (d *Decoder) field(h *Header) {
	d.Align(8)
	code := d.Byte()
	sig := d.Sig()
	if d.err != nil {
		return
	}
	if code == 0 || int(code) < len(fieldTypes) && sig != fieldTypes[code] {
		d.err = malformed("header field %d of type %q", code, sig)
		return
	}
	var s string
	var u uint32
	switch sig {
	case "s":
		s = headerStrings.get(d.strBytes())
	case "o":
		if s = headerStrings.get(d.strBytes()); d.err == nil && !ValidObjectPath(s) {
			d.err = malformed("object path %q", s)
		}
	case "g":
		s = headerStrings.get(d.sigBytes())
	case "u":
		u = d.Uint32()
	default:
		d.err = malformed("header field %d of type %q", code, sig)
	}
	h.set(code, s, u)
}

func (h *Header) set(code byte, s string, u uint32) {
	switch code {
	case FieldPath:
		h.Path = s
	case FieldInterface:
		h.Interface = s
	case FieldMember:
		h.Member = s
	case FieldErrorName:
		h.ErrorName = s
	case FieldReplySerial:
		h.ReplySerial = u
	case FieldDestination:
		h.Destination = s
	case FieldSender:
		h.Sender = s
	case FieldSignature:
		h.Signature = s
	case FieldUnixFDs:
		h.UnixFDs = u
	}
}

// Decoder reads marshalled values. The first error sticks (Err): the
// values read after it are zero.
type Decoder struct {
	b     []byte
	off   int
	order binary.ByteOrder
	err   error
}

// NewDecoder returns a decoder of b, which starts at an 8-byte boundary
// of its message.
func NewDecoder(order binary.ByteOrder, b []byte) Decoder {
	return Decoder{b: b, order: order}
}

// Err is the first error, nil if there was none.
func (d *Decoder) Err() error { return d.err }

// Done reports whether every byte was read without error.
func (d *Decoder) Done() bool { return d.err == nil && d.off == len(d.b) }

// Len is the number of bytes not read yet.
func (d *Decoder) Len() int { return len(d.b) - d.off }

// need reports whether n more bytes are there, failing if not.
func (d *Decoder) need(n int) bool {
	if d.err == nil && n > len(d.b)-d.off {
		d.err = errShort
	}
	return d.err == nil
}

// Align skips the padding up to a multiple of n (1, 2, 4 or 8, as
// every alignment of the format is), which must be zeros.
func (d *Decoder) Align(n int) {
	pad := -d.off & (n - 1)
	if pad == 0 || !d.need(pad) {
		return
	}
	for _, c := range d.b[d.off : d.off+pad] {
		if c != 0 {
			d.err = malformed("padding byte %#x", c)
			return
		}
	}
	d.off += pad
}

// Byte reads a BYTE.
func (d *Decoder) Byte() byte {
	if !d.need(1) {
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

// Uint32 reads a BOOLEAN, INT32, UINT32 or UNIX_FD.
func (d *Decoder) Uint32() uint32 {
	if d.Align(4); !d.need(4) {
		return 0
	}
	d.off += 4
	return d.order.Uint32(d.b[d.off-4:])
}

// Str reads a STRING: UTF-8 without NUL.
func (d *Decoder) Str() string {
	b := d.strBytes()
	if b == nil {
		return ""
	}
	return string(b)
}

// StrAlias reads a STRING as Str does, without copying it: the string
// aliases the decoder's bytes, so it is valid only while they are not
// reused (a message buffer read again, say) and must not be kept.
func (d *Decoder) StrAlias() string {
	b := d.strBytes()
	if b == nil {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// strBytes reads a STRING and returns its bytes, aliasing the decoder's
// (nil after an error).
func (d *Decoder) strBytes() []byte {
	n := d.Uint32()
	if !d.need(int(min(n, MaxMessage)) + 1) {
		return nil
	}
	b := d.b[d.off : d.off+int(n) : d.off+int(n)]
	if d.b[d.off+int(n)] != 0 {
		d.err = malformed("string without its NUL")
		return nil
	}
	d.off += int(n) + 1
	if !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		d.err = malformed("string %q is not UTF-8 without NUL", b)
		return nil
	}
	return b
}

// Path reads an OBJECT_PATH.
func (d *Decoder) Path() string {
	p := d.Str()
	if d.err == nil && !ValidObjectPath(p) {
		d.err = malformed("object path %q", p)
		return ""
	}
	return p
}

// Sig reads a SIGNATURE (also a VARIANT's signature).
func (d *Decoder) Sig() string {
	b := d.sigBytes()
	if b == nil {
		return ""
	}
	return string(b)
}

// sigBytes reads a SIGNATURE and returns its bytes, aliasing the
// decoder's (nil after an error).
func (d *Decoder) sigBytes() []byte {
	if !d.need(1) || !d.need(int(d.b[d.off])+2) {
		return nil
	}
	n := int(d.b[d.off])
	if d.b[d.off+1+n] != 0 {
		d.err = malformed("signature without its NUL")
		return nil
	}
	b := d.b[d.off+1 : d.off+1+n : d.off+1+n]
	d.off += n + 2
	return b
}

// Bytes reads an ARRAY of BYTE; the result aliases the decoder's bytes.
func (d *Decoder) Bytes() []byte {
	a := d.Array(1)
	return a.b[a.off:]
}

// Array reads an array's length and the padding to its elements'
// alignment, and returns a decoder of its elements (empty after an
// error).
func (d *Decoder) Array(elemAlign int) Decoder {
	n := d.Uint32()
	d.Align(elemAlign)
	if n > MaxArray {
		d.err = malformed("array of %d bytes", n)
	}
	if !d.need(int(n)) {
		return Decoder{order: d.order, err: d.err}
	}
	a := Decoder{b: d.b[:d.off+int(n)], off: d.off, order: d.order}
	d.off += int(n)
	return a
}
