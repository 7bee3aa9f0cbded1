package machine1

import (
	"fmt"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"
)

// sender returns the unique bus name of msg's sender.
func sender(msg dbus.Message) string {
	s, _ := msg.Headers[dbus.FieldSender].Value().(string)
	return s
}

// maxCachedUIDs bounds the sender → UID cache.
const maxCachedUIDs = 4096

// uidCache remembers the UID the bus reported for a unique name. A bus
// never reuses a unique name and a connection's UID never changes, so an
// entry stays true; only successful answers are cached.
type uidCache struct {
	mu sync.Mutex
	// uids is guarded by mu.
	uids map[string]uint32
}

func (c *uidCache) get(name string) (uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	uid, ok := c.uids[name]
	return uid, ok
}

func (c *uidCache) put(name string, uid uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.uids == nil || len(c.uids) >= maxCachedUIDs {
		c.uids = map[string]uint32{}
	}
	c.uids[name] = uid
}

// callerUID asks the bus daemon for the UID of msg's sender.
func (s *Server) callerUID(msg dbus.Message) (uint32, error) {
	name := sender(msg)
	if !strings.HasPrefix(name, ":") {
		return 0, fmt.Errorf("message has no unique sender")
	}
	if uid, ok := s.uids.get(name); ok {
		return uid, nil
	}
	var uid uint32
	if err := s.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixUser", 0, name).Store(&uid); err != nil {
		return 0, err
	}
	s.uids.put(name, uid)
	return uid, nil
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
