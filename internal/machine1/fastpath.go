package machine1

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/dbus-interfaces"
)

// The fast path answers the two hottest calls, GetMachine and
// ListMachines on the Manager, in the connection's reader itself: the
// call's header is parsed here, the same Server method runs and the
// reply goes out through the same writer, without godbus decoding the
// message by reflection and starting a goroutine for it. Anything else,
// any doubt and any error go to godbus as the message's bytes, unchanged,
// so the answers are the same either way.

// Limits of a message as the D-Bus specification has them.
const (
	fixedHeaderLen = 16
	maxFieldsLen   = 64 << 20
)

// Message header field codes the fast path reads.
const (
	hdrPath      = 1
	hdrInterface = 2
	hdrMember    = 3
	hdrSignature = 8
	hdrSender    = 7
	hdrUnixFDs   = 9
)

// wireMethodCall is the message type of a method call.
const wireMethodCall = 1

// errMalformed marks a message the fast path cannot parse; it goes to
// godbus, which judges it.
var errMalformed = errors.New("malformed message")

// readMessage reads one whole message from r.
func readMessage(r io.Reader) ([]byte, error) {
	var fixed [fixedHeaderLen]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return nil, err
	}
	order, err := byteOrder(fixed[0])
	if err != nil {
		return nil, err
	}
	body, fields := order.Uint32(fixed[4:]), order.Uint32(fixed[12:])
	if fields > maxFieldsLen || uint64(body) > maxWireMessage {
		return nil, fmt.Errorf("read message: %d bytes of header fields, %d of body: %w", fields, body, errMalformed)
	}
	total := fixedHeaderLen + align8(int(fields)) + int(body)
	if total > maxWireMessage {
		return nil, fmt.Errorf("read message: %d bytes: %w", total, errMalformed)
	}
	msg := make([]byte, total)
	copy(msg, fixed[:])
	if _, err := io.ReadFull(r, msg[fixedHeaderLen:]); err != nil {
		return nil, err
	}
	return msg, nil
}

func byteOrder(b byte) (binary.ByteOrder, error) {
	switch b {
	case 'l':
		return binary.LittleEndian, nil
	case 'B':
		return binary.BigEndian, nil
	}
	return nil, fmt.Errorf("read message: byte order %q: %w", b, errMalformed)
}

func align8(n int) int { return (n + 7) &^ 7 }

// call is what the fast path needs of a method call.
type call struct {
	serial                           uint32
	flags                            byte
	path, iface, member, sig, sender string
	unixFDs                          uint32
	body                             []byte
	order                            binary.ByteOrder
}

// parseCall parses a whole message's header; errMalformed if it is not a
// method call the parser understands.
func parseCall(msg []byte) (call, error) {
	var c call
	if len(msg) < fixedHeaderLen || msg[1] != wireMethodCall {
		return c, errMalformed
	}
	order, err := byteOrder(msg[0])
	if err != nil {
		return c, err
	}
	c.order, c.flags, c.serial = order, msg[2], order.Uint32(msg[8:])
	end := fixedHeaderLen + int(order.Uint32(msg[12:]))
	if end > len(msg) || align8(end)+int(order.Uint32(msg[4:])) != len(msg) {
		return c, errMalformed
	}
	for pos := fixedHeaderLen; pos < end; {
		if pos, err = c.field(msg[:end], align8(pos)); err != nil {
			return c, err
		}
	}
	c.body = msg[align8(end):]
	return c, nil
}

// field parses the header field at pos and returns the position after it.
func (c *call) field(b []byte, pos int) (int, error) {
	if pos+4 > len(b) || b[pos+1] != 1 || b[pos+3] != 0 {
		return 0, errMalformed
	}
	code, typ := b[pos], b[pos+2]
	pos += 4
	if typ == 'u' {
		pos = (pos + 3) &^ 3
		if pos+4 > len(b) {
			return 0, errMalformed
		}
		if code == hdrUnixFDs {
			c.unixFDs = c.order.Uint32(b[pos:])
		}
		return pos + 4, nil
	}
	var s string
	var err error
	switch typ {
	case 's', 'o':
		s, pos, err = c.str(b, pos)
	case 'g':
		s, pos, err = sigAt(b, pos)
	default:
		return 0, errMalformed
	}
	if err != nil {
		return 0, err
	}
	c.set(code, s)
	return pos, nil
}

func (c *call) set(code byte, s string) {
	switch code {
	case hdrPath:
		c.path = s
	case hdrInterface:
		c.iface = s
	case hdrMember:
		c.member = s
	case hdrSignature:
		c.sig = s
	case hdrSender:
		c.sender = s
	}
}

// str reads a string (or object path) at pos: aligned length, bytes, NUL.
func (c *call) str(b []byte, pos int) (string, int, error) {
	pos = (pos + 3) &^ 3
	if pos+4 > len(b) {
		return "", 0, errMalformed
	}
	n := int(c.order.Uint32(b[pos:]))
	pos += 4
	if n < 0 || n >= len(b)-pos || b[pos+n] != 0 {
		return "", 0, errMalformed
	}
	s := string(b[pos : pos+n])
	if !utf8.ValidString(s) {
		return "", 0, errMalformed
	}
	return s, pos + n + 1, nil
}

func sigAt(b []byte, pos int) (string, int, error) {
	if pos >= len(b) {
		return "", 0, errMalformed
	}
	n := int(b[pos])
	if pos+1+n >= len(b) || b[pos+1+n] != 0 {
		return "", 0, errMalformed
	}
	return string(b[pos+1 : pos+1+n]), pos + n + 2, nil
}

// fastCall answers msg if it is a well-formed GetMachine or ListMachines
// call on the Manager that succeeds, or takes it if it is a registration
// or UnregisterMachine call fastMutation takes, and reports whether it
// did.
func (s *Server) fastCall(msg []byte) bool {
	c, err := parseCall(msg)
	if err != nil || c.path != string(ManagerPath) || c.iface != dbusinterfaces.Manager ||
		c.flags&byte(dbus.FlagNoReplyExpected) != 0 || c.unixFDs != 0 || c.sender == "" {
		return false
	}
	var sig dbus.Signature
	var out any
	switch {
	case c.member == "ListMachines" && c.sig == "" && len(c.body) == 0:
		body, err := s.list.get(s.opts.Machines)
		if err != nil {
			return false
		}
		sig, out = dbus.ParseSignatureMust(machineListSig), encoded{body}
	case c.member == "GetMachine" && c.sig == "s":
		name, end, err := c.str(c.body, 0)
		if err != nil || end != len(c.body) {
			return false
		}
		p, derr := s.getMachine(dbus.Message{}, name)
		if derr != nil {
			return false
		}
		sig, out = dbus.SignatureOf(p), p
	default:
		return s.fastMutation(c)
	}
	if err := s.sock.reply(c.sender, c.serial, sig, []any{out}); err != nil {
		s.opts.Log.Printf("warning: reply: %v", err)
	}
	return true
}
