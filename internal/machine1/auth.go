package machine1

import (
	"fmt"

	"github.com/godbus/dbus/v5"
)

// sender returns the unique bus name of msg's sender.
func sender(msg dbus.Message) string {
	s, _ := msg.Headers[dbus.FieldSender].Value().(string)
	return s
}

// callerUID asks the bus daemon for the UID of msg's sender.
func (s *Server) callerUID(msg dbus.Message) (uint32, error) {
	var uid uint32
	name := sender(msg)
	if name == "" {
		return 0, fmt.Errorf("message has no sender")
	}
	err := s.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixUser", 0, name).Store(&uid)
	return uid, err
}

// callerPID asks the bus daemon for the PID of msg's sender. It is used to
// find the caller's machine (leader 0, PID 0, "self"), never to authorize.
func (s *Server) callerPID(msg dbus.Message) (uint32, error) {
	var pid uint32
	err := s.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, sender(msg)).Store(&pid)
	if err != nil {
		return 0, fmt.Errorf("get caller PID: %w", err)
	}
	return pid, nil
}

// requireRoot fails closed: only a sender the bus says is UID 0 passes;
// any error asking is a denial.
func (s *Server) requireRoot(msg dbus.Message, action string) error {
	uid, err := s.callerUID(msg)
	if err != nil {
		return fmt.Errorf("%s: cannot determine caller (%v): %w", action, err, errAccessDenied)
	}
	if uid != 0 {
		return fmt.Errorf("%s: UID %d is not allowed: %w", action, uid, errAccessDenied)
	}
	return nil
}
