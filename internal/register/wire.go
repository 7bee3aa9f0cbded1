package register

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The spawner speaks the few D-Bus messages it needs itself instead of
// linking a general D-Bus library: a registration is one connection, a
// Hello, an AddMatch and one call, and the library's start-up, reflection
// and goroutines cost every registered start more than the calls.

// Message types (D-Bus specification, "Message Format").
const (
	typeCall   = 1
	typeReturn = 2
	typeError  = 3
	typeSignal = 4
)

// Header field codes.
const (
	fieldPath        = 1
	fieldInterface   = 2
	fieldMember      = 3
	fieldErrorName   = 4
	fieldReplySerial = 5
	fieldDestination = 6
	fieldSender      = 7
	fieldSignature   = 8
)

// maxMessage bounds the size of a message read: the spawner's replies and
// signals are a few hundred bytes.
const maxMessage = 1 << 20

// errMalformed is wrapped by every decoding error.
var errMalformed = errors.New("malformed D-Bus message")

// message is one D-Bus message: the header fields the spawner uses and
// the marshalled body.
type message struct {
	typ, flags                     byte
	serial, replySerial            uint32
	path, iface, member, errName   string
	destination, sender, signature string
	body                           []byte
}

// encoder appends D-Bus marshalled values (little-endian) to b.
type encoder struct{ b []byte }

func (e *encoder) align(n int) {
	for len(e.b)%n != 0 {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) byte(v byte) { e.b = append(e.b, v) }

func (e *encoder) uint32(v uint32) {
	e.align(4)
	e.b = binary.LittleEndian.AppendUint32(e.b, v)
}

// string appends a STRING or OBJECT_PATH.
func (e *encoder) string(s string) {
	e.uint32(uint32(len(s)))
	e.b = append(append(e.b, s...), 0)
}

func (e *encoder) signature(s string) {
	e.b = append(append(append(e.b, byte(len(s))), s...), 0)
}

// array appends an array whose elements align to elemAlign, written by
// elems, with its byte length.
func (e *encoder) array(elemAlign int, elems func()) {
	e.uint32(0)
	at := len(e.b) - 4
	e.align(elemAlign)
	start := len(e.b)
	elems()
	binary.LittleEndian.PutUint32(e.b[at:], uint32(len(e.b)-start))
}

// bytes appends an ARRAY of BYTE.
func (e *encoder) bytes(b []byte) {
	e.uint32(uint32(len(b)))
	e.b = append(e.b, b...)
}

// variant appends a VARIANT of signature sig whose value value writes.
func (e *encoder) variant(sig string, value func()) {
	e.signature(sig)
	value()
}

// encode marshals m (its body already marshalled for m.signature).
func (m *message) encode() []byte {
	e := encoder{b: make([]byte, 0, 128+len(m.body))}
	e.b = append(e.b, 'l', m.typ, m.flags, 1)
	e.uint32(uint32(len(m.body)))
	e.uint32(m.serial)
	e.array(8, func() {
		field := func(code byte, sig, v string) {
			if v == "" {
				return
			}
			e.align(8)
			e.byte(code)
			e.variant(sig, func() {
				if sig == "g" {
					e.signature(v)
				} else {
					e.string(v)
				}
			})
		}
		field(fieldPath, "o", m.path)
		field(fieldInterface, "s", m.iface)
		field(fieldMember, "s", m.member)
		field(fieldErrorName, "s", m.errName)
		field(fieldDestination, "s", m.destination)
		field(fieldSender, "s", m.sender)
		field(fieldSignature, "g", m.signature)
		if m.replySerial != 0 {
			e.align(8)
			e.byte(fieldReplySerial)
			e.variant("u", func() { e.uint32(m.replySerial) })
		}
	})
	e.align(8)
	return append(e.b, m.body...)
}

// messageSize returns the size of the message whose first 16 bytes are
// head, or an error for a header no message of ours could have.
func messageSize(head []byte) (int, error) {
	if len(head) < 16 || head[0] != 'l' || head[3] != 1 {
		return 0, fmt.Errorf("%w: not a little-endian D-Bus 1 header", errMalformed)
	}
	body := binary.LittleEndian.Uint32(head[4:])
	fields := binary.LittleEndian.Uint32(head[12:])
	if body > maxMessage || fields > maxMessage {
		return 0, fmt.Errorf("%w: %d+%d bytes is too large", errMalformed, fields, body)
	}
	return (16+int(fields)+7)&^7 + int(body), nil
}

// decodeMessage parses one whole message (its size from messageSize).
func decodeMessage(b []byte) (*message, error) {
	n, err := messageSize(b)
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, fmt.Errorf("%w: %d bytes, want %d", errMalformed, len(b), n)
	}
	m := &message{typ: b[1], flags: b[2], serial: binary.LittleEndian.Uint32(b[8:])}
	end := 16 + int(binary.LittleEndian.Uint32(b[12:]))
	d := decoder{b: b[:end], off: 16}
	for d.off < end {
		if err := d.field(m); err != nil {
			return nil, err
		}
	}
	m.body = b[(end+7)&^7:]
	return m, nil
}

// decoder reads marshalled values from b at off.
type decoder struct {
	b   []byte
	off int
}

// errShort is a message that ends before its values do. A type rather
// than fmt.Errorf, so the package costs nothing at process start.
var errShort error = truncatedError{}

type truncatedError struct{}

func (truncatedError) Error() string { return errMalformed.Error() + ": truncated" }

func (truncatedError) Unwrap() error { return errMalformed }

func (d *decoder) align(n int) error {
	d.off = (d.off + n - 1) &^ (n - 1)
	if d.off > len(d.b) {
		return errShort
	}
	return nil
}

func (d *decoder) uint32() (uint32, error) {
	if err := d.align(4); err != nil || d.off+4 > len(d.b) {
		return 0, errShort
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

// string reads a STRING or OBJECT_PATH.
func (d *decoder) string() (string, error) {
	n, err := d.uint32()
	if err != nil || uint64(d.off)+uint64(n)+1 > uint64(len(d.b)) || d.b[d.off+int(n)] != 0 {
		return "", errShort
	}
	s := string(d.b[d.off : d.off+int(n)])
	d.off += int(n) + 1
	return s, nil
}

func (d *decoder) signature() (string, error) {
	if d.off >= len(d.b) {
		return "", errShort
	}
	n := int(d.b[d.off])
	if d.off+1+n+1 > len(d.b) || d.b[d.off+1+n] != 0 {
		return "", errShort
	}
	s := string(d.b[d.off+1 : d.off+1+n])
	d.off += n + 2
	return s, nil
}

// field reads one header field into m.
func (d *decoder) field(m *message) error {
	if err := d.align(8); err != nil || d.off >= len(d.b) {
		return errShort
	}
	code := d.b[d.off]
	d.off++
	sig, err := d.signature()
	if err != nil {
		return err
	}
	var s string
	var u uint32
	switch sig {
	case "s", "o":
		s, err = d.string()
	case "g":
		s, err = d.signature()
	case "u":
		u, err = d.uint32()
	default:
		return fmt.Errorf("%w: header field %d of type %q", errMalformed, code, sig)
	}
	if err != nil {
		return err
	}
	switch code {
	case fieldPath:
		m.path = s
	case fieldInterface:
		m.iface = s
	case fieldMember:
		m.member = s
	case fieldErrorName:
		m.errName = s
	case fieldReplySerial:
		m.replySerial = u
	case fieldDestination:
		m.destination = s
	case fieldSender:
		m.sender = s
	case fieldSignature:
		m.signature = s
	}
	return nil
}

// firstString returns the body's first value when it is a STRING or an
// OBJECT_PATH (a reply's name or path, an error's message).
func (m *message) firstString() (string, bool) {
	if m.signature == "" || (m.signature[0] != 's' && m.signature[0] != 'o') {
		return "", false
	}
	d := decoder{b: m.body}
	s, err := d.string()
	return s, err == nil
}
