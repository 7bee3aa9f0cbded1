package machine1

import (
	"sync"
	"unsafe"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/dbuswire"
	"github.com/berth-dev/berth/internal/machine"
)

// The fast path also takes the registration calls of a caller the bus
// named as root, or did not name yet (a spawner's connection makes a
// single call; the goroutine of mutations asks the bus for its UID, as
// godbus's handler would, and denies all but root, which polkit never
// lets register): it decodes their arguments here instead of
// through godbus, whose decoder allocates several kilobytes per message.
// That garbage, a registration after another, is what kept berthd's heap
// fragmented. The call then runs, after those that came before it, in
// the goroutine of mutations, through the same Registry method. Calls of
// an unknown caller, with leader 0, with scope properties or in any
// doubt go to godbus.

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
	uid, known := s.uids.get(c.Sender)
	if known && uid != 0 {
		return false
	}
	m := mutation{sender: c.Sender, serial: c.Serial}
	if c.Member == "UnregisterMachine" && c.Signature == "s" {
		var ok bool
		if m.unregister, ok = oneString(&c); !ok || !known {
			return false
		}
		s.mutations.add(s, m)
		return true
	}
	want, ok := registerSigs[c.Member]
	if !ok || c.Signature != want {
		return false
	}
	if m.register, ok = decodeSpec(c); !ok || m.register.Leader == 0 {
		return false
	}
	m.isRegister, m.checkUID = true, !known
	s.mutations.add(s, m)
	return true
}

// mutation is a registration or UnregisterMachine call the fast path took.
type mutation struct {
	// sender and serial identify the call, for the reply.
	sender string
	serial uint32
	// isRegister tells a registration of register from an
	// UnregisterMachine of unregister.
	isRegister bool
	register   machine.Spec
	unregister string
	// checkUID asks the bus for the sender's UID before a registration.
	checkUID bool
}

// mutations runs the calls the fast path takes, in the order they came,
// in one goroutine, started at the first call and parked between calls:
// no goroutine, closure and copy of the call per call, whose garbage a
// burst of registrations would leave. A call never waits for another
// here longer than the queue holds: when it is full, a call runs in a
// goroutine of its own, as godbus runs calls. The reader never blocks
// on it, so a call may wait for a bus reply (a systemd unit's state).
type mutations struct {
	queue chan mutation
	// start starts the goroutine that drains queue.
	start sync.Once
}

// mutationQueue is how many calls wait for the draining goroutine.
const mutationQueue = 16

// add runs m for s, soon.
func (q *mutations) add(s *Server, m mutation) {
	q.start.Do(func() { go q.drain(s) })
	select {
	case q.queue <- m:
	default:
		go s.apply(m)
	}
}

// drain runs the queued calls, for the life of the process.
func (q *mutations) drain(s *Server) {
	for m := range q.queue {
		s.apply(m)
	}
}

// apply runs m and writes its reply or error.
func (s *Server) apply(m mutation) {
	if !m.isRegister {
		s.finish(m.sender, m.serial, dbus.Signature{}, nil, busError(s.opts.Machines.Unregister(m.unregister)))
		return
	}
	if m.checkUID {
		if err := s.requireRootOnly(m.sender, "register machine"); err != nil {
			s.finish(m.sender, m.serial, pathSig, nil, busError(err))
			return
		}
	}
	got, err := s.opts.Machines.Register(m.register)
	if err != nil {
		s.finish(m.sender, m.serial, pathSig, nil, busError(err))
		return
	}
	s.warnReply(s.sock.replyMachine(m.sender, m.serial, got.Name))
}

// finish writes a call's reply, out (of signature sig, none if sig is
// empty), or its error derr.
func (s *Server) finish(sender string, serial uint32, sig dbus.Signature, out any, derr *dbus.Error) {
	if derr != nil {
		s.conn.Send(errorMessage(sender, serial, derr), nil)
		return
	}
	var values []any
	if sig.String() != "" {
		values = []any{out}
	}
	s.warnReply(s.sock.reply(sender, serial, sig, values))
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
// by the caller). Create*'s scope properties must be empty. The strings
// and ID are copied, together, into one allocation of their own: the
// call's buffer is read into again before the registration runs.
func decodeSpec(c call) (machine.Spec, bool) {
	d := c.Args()
	var s machine.Spec
	name, id, service, class := d.StrAlias(), d.Bytes(), d.StrAlias(), d.StrAlias()
	s.Leader = d.Uint32()
	root := d.StrAlias()
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
	if !d.Done() {
		return s, false
	}
	buf := make([]byte, 0, len(name)+len(id)+len(service)+len(class)+len(root))
	s.Name, s.Service, s.Class = ownString(&buf, name), ownString(&buf, service), machine.Class(ownString(&buf, class))
	s.RootDirectory = ownString(&buf, root)
	if len(id) > 0 {
		at := len(buf)
		buf = append(buf, id...)
		s.ID = buf[at:len(buf):len(buf)]
	}
	return s, true
}

// ownString appends v to *buf, which has room for it, and returns the copy.
func ownString(buf *[]byte, v string) string {
	if v == "" {
		return ""
	}
	at := len(*buf)
	*buf = append(*buf, v...)
	return unsafe.String(&(*buf)[at], len(v))
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
