package machine1

import (
	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/machine"
)

// The fast path also takes the registration calls of a caller the bus
// already named as root: it decodes their arguments here instead of
// through godbus, whose decoder allocates several kilobytes per message.
// That garbage, a registration after another, is what kept berthd's heap
// fragmented. The call then runs in a goroutine of its own, as godbus
// runs it, through the same Server method. Calls of an unknown caller,
// with leader 0, with scope properties or in any doubt go to godbus.

// pathSig is the signature of a reply of one object path.
var pathSig = dbus.SignatureOf(dbus.ObjectPath(""))

// registerSigs are the signatures of the registration methods the fast
// path decodes.
var registerSigs = map[string]string{
	"RegisterMachine":            "sayssus",
	"RegisterMachineWithNetwork": "sayssusai",
	"CreateMachine":              "sayssusa(sv)",
	"CreateMachineWithNetwork":   "sayssusaia(sv)",
}

// fastMutation answers a registration or UnregisterMachine call of a root
// caller, and reports whether it took the call.
func (s *Server) fastMutation(c call) bool {
	if uid, ok := s.uids.get(c.sender); !ok || uid != 0 {
		return false
	}
	if c.member == "UnregisterMachine" && c.sig == "s" {
		name, end, err := c.str(c.body, 0)
		if err != nil || end != len(c.body) {
			return false
		}
		go s.finish(c, dbus.Signature{}, func() (any, *dbus.Error) {
			return nil, busError(s.opts.Machines.Unregister(name))
		})
		return true
	}
	want, ok := registerSigs[c.member]
	if !ok || c.sig != want {
		return false
	}
	spec, ok := decodeSpec(c)
	if !ok || spec.Leader == 0 {
		return false
	}
	go s.finish(c, pathSig, func() (any, *dbus.Error) {
		m, err := s.opts.Machines.Register(spec)
		if err != nil {
			return nil, busError(err)
		}
		return MachinePath(m.Name), nil
	})
	return true
}

// finish runs a call's work and writes its reply (of signature sig, none
// if sig is empty) or its error.
func (s *Server) finish(c call, sig dbus.Signature, work func() (any, *dbus.Error)) {
	out, derr := work()
	if derr != nil {
		s.conn.Send(errorMessage(c.sender, c.serial, derr), nil)
		return
	}
	var values []any
	if sig.String() != "" {
		values = []any{out}
	}
	if err := s.sock.reply(c.sender, c.serial, sig, values); err != nil {
		s.opts.Log.Printf("warning: reply: %v", err)
	}
}

// errorMessage is the ERROR reply to the call serial from dest, as godbus
// sends it for a method's error.
func errorMessage(dest string, serial uint32, e *dbus.Error) *dbus.Message {
	msg := &dbus.Message{Type: dbus.TypeError, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldDestination: dbus.MakeVariant(dest),
		dbus.FieldErrorName:   dbus.MakeVariant(e.Name),
		dbus.FieldReplySerial: dbus.MakeVariant(serial),
	}, Body: e.Body}
	if len(e.Body) > 0 {
		msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(e.Body...))
	}
	return msg
}

// bodyReader reads a call's arguments; the first failure sticks.
type bodyReader struct {
	c   *call
	pos int
	bad bool
}

func (r *bodyReader) align(n int) {
	for r.pos%n != 0 {
		if r.pos >= len(r.c.body) || r.c.body[r.pos] != 0 {
			r.bad = true
			return
		}
		r.pos++
	}
}

func (r *bodyReader) u32() uint32 {
	r.align(4)
	if r.bad || r.pos+4 > len(r.c.body) {
		r.bad = true
		return 0
	}
	v := r.c.order.Uint32(r.c.body[r.pos:])
	r.pos += 4
	return v
}

func (r *bodyReader) str() string {
	if r.bad {
		return ""
	}
	s, end, err := r.c.str(r.c.body, r.pos)
	if err != nil {
		r.bad = true
		return ""
	}
	r.pos = end
	return s
}

// array reads an array's length and the padding to its elements'
// alignment, and returns the bytes of its elements.
func (r *bodyReader) array(elemAlign int) []byte {
	n := int(r.u32())
	r.align(elemAlign)
	if r.bad || n > len(r.c.body)-r.pos {
		r.bad = true
		return nil
	}
	b := r.c.body[r.pos : r.pos+n]
	r.pos += n
	return b
}

func (r *bodyReader) int32s() []int32 {
	b := r.array(4)
	if len(b)%4 != 0 {
		r.bad = true
	}
	if r.bad || len(b) == 0 {
		return nil
	}
	out := make([]int32, len(b)/4)
	for i := range out {
		out[i] = int32(r.c.order.Uint32(b[4*i:]))
	}
	return out
}

// decodeSpec decodes a registration call's arguments (signature checked
// by the caller). Create*'s scope properties must be empty.
func decodeSpec(c call) (machine.Spec, bool) {
	r := bodyReader{c: &c}
	var s machine.Spec
	s.Name = r.str()
	if id := r.array(1); len(id) > 0 {
		s.ID = append([]byte(nil), id...)
	}
	s.Service = r.str()
	s.Class = machine.Class(r.str())
	s.Leader = r.u32()
	s.RootDirectory = r.str()
	if c.member == "RegisterMachineWithNetwork" || c.member == "CreateMachineWithNetwork" {
		s.NetworkInterfaces = r.int32s()
	}
	if c.member == "CreateMachine" || c.member == "CreateMachineWithNetwork" {
		if props := r.array(8); len(props) != 0 {
			return s, false
		}
	}
	return s, !r.bad && r.pos == len(c.body)
}
