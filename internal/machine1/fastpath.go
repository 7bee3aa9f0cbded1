package machine1

import (
	"errors"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/dbus-interfaces"
	"github.com/berth-dev/berth/internal/dbuswire"
)

// The fast path answers the two hottest calls, GetMachine and
// ListMachines on the Manager, in the connection's reader itself: the
// call's header is parsed here, the same Server method runs and the
// reply goes out through the same writer, without godbus decoding the
// message by reflection and starting a goroutine for it. Anything else,
// any doubt and any error go to godbus as the message's bytes, unchanged,
// so the answers are the same either way.

// call is a method call the fast path parsed.
type call = dbuswire.Message

// errMalformed marks a message the fast path cannot parse; it goes to
// godbus, which judges it.
var errMalformed = errors.New("not a method call")

// parseCall parses a whole message's header; an error if it is not a
// method call the parser understands.
func parseCall(msg []byte) (call, error) {
	c, err := dbuswire.Parse(msg)
	if err == nil && c.Type != dbuswire.TypeCall {
		err = errMalformed
	}
	return c, err
}

// oneString returns the only argument of a call of signature "s".
func oneString(c *call) (string, bool) {
	d := c.Args()
	s := d.Str()
	return s, d.Done()
}

// fastCall answers msg if it is a well-formed GetMachine or ListMachines
// call on the Manager that succeeds, or takes it if it is a registration
// or UnregisterMachine call fastMutation takes, and reports whether it
// did.
func (s *Server) fastCall(msg []byte) bool {
	c, err := parseCall(msg)
	if err != nil || c.Path != string(ManagerPath) || c.Interface != dbusinterfaces.Manager ||
		c.Flags&dbuswire.FlagNoReplyExpected != 0 || c.UnixFDs != 0 || c.Sender == "" {
		return false
	}
	switch {
	case c.Member == "ListMachines" && c.Signature == "" && len(c.Body) == 0:
		body, err := s.list.get(s.opts.Machines)
		if err != nil {
			return false
		}
		err = s.sock.reply(c.Sender, c.Serial, dbus.ParseSignatureMust(machineListSig), []any{encoded{body}})
		s.warnReply(err)
	case c.Member == "GetMachine" && c.Signature == "s":
		// The name is only looked up: it may alias msg.
		d := c.Args()
		name := d.StrAlias()
		if !d.Done() {
			return false
		}
		m, err := s.opts.Machines.Get(name)
		if err != nil {
			return false
		}
		s.warnReply(s.sock.replyMachine(c.Sender, c.Serial, m.Name))
	default:
		return s.fastMutation(c)
	}
	return true
}

// warnReply logs a failure to write a reply.
func (s *Server) warnReply(err error) {
	if err != nil {
		s.opts.Log.Printf("warning: reply: %v", err)
	}
}
