package machine1

import (
	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/dbuswire"
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
	if uid, ok := s.uids.get(c.Sender); !ok || uid != 0 {
		return false
	}
	if c.Member == "UnregisterMachine" && c.Signature == "s" {
		name, ok := oneString(&c)
		if !ok {
			return false
		}
		go s.finish(c, dbus.Signature{}, func() (any, *dbus.Error) {
			return nil, busError(s.opts.Machines.Unregister(name))
		})
		return true
	}
	want, ok := registerSigs[c.Member]
	if !ok || c.Signature != want {
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
		s.conn.Send(errorMessage(c.Sender, c.Serial, derr), nil)
		return
	}
	var values []any
	if sig.String() != "" {
		values = []any{out}
	}
	if err := s.sock.reply(c.Sender, c.Serial, sig, values); err != nil {
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

// decodeSpec decodes a registration call's arguments (signature checked
// by the caller). Create*'s scope properties must be empty.
func decodeSpec(c call) (machine.Spec, bool) {
	d := c.Args()
	var s machine.Spec
	s.Name = d.Str()
	if id := d.Bytes(); len(id) > 0 {
		s.ID = append([]byte(nil), id...)
	}
	s.Service = d.Str()
	s.Class = machine.Class(d.Str())
	s.Leader = d.Uint32()
	s.RootDirectory = d.Str()
	if c.Member == "RegisterMachineWithNetwork" || c.Member == "CreateMachineWithNetwork" {
		var ok bool
		if s.NetworkInterfaces, ok = int32s(&d); !ok {
			return s, false
		}
	}
	if c.Member == "CreateMachine" || c.Member == "CreateMachineWithNetwork" {
		if props := d.Array(8); !props.Done() {
			return s, false
		}
	}
	return s, d.Done()
}

// int32s reads an ARRAY of INT32, nil if it is empty.
func int32s(d *dbuswire.Decoder) ([]int32, bool) {
	a := d.Array(4)
	if a.Len()%4 != 0 || a.Err() != nil {
		return nil, false
	}
	if a.Len() == 0 {
		return nil, true
	}
	out := make([]int32, a.Len()/4)
	for i := range out {
		out[i] = int32(a.Uint32())
	}
	return out, a.Done()
}
