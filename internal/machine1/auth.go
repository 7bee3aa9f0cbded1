package machine1

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/buslabel"
)

// sender returns the unique bus name of msg's sender.
func sender(msg dbus.Message) string {
	s, _ := msg.Headers[dbus.FieldSender].Value().(string)
	return s
}

// uidSlots is how many callers the sender → UID cache holds, and
// maxCachedName the longest unique name it holds (the bus daemon's are
// like ":1.1234"). A slot is 32 bytes, so the table is 4 KiB: the size
// class of the registry's string chunks, which registrations use anyway.
// A table of a size class of its own costs berthd, besides its pages,
// the runtime's bookkeeping for one more class (about 15 KB resident).
const (
	uidSlots      = 128
	maxCachedName = 27
)

// uidCache remembers the UID the bus reported for a unique name. A bus
// never reuses a unique name and a connection's UID never changes, so an
// entry stays true; only successful answers are cached. It is a
// direct-mapped table of fixed size, made at the first put: a caller
// evicts the one whose name hashes to the same slot, and no call (a
// spawner's connection makes one registration) leaves garbage.
type uidCache struct {
	mu sync.Mutex
	// slots is guarded by mu.
	slots *[uidSlots]uidSlot
}

// uidSlot is one cached caller.
type uidSlot struct {
	name [maxCachedName]byte
	len  uint8
	uid  uint32
}

// slot returns the slot of name.
func (c *uidCache) slot(name string) *uidSlot {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return &c.slots[h%uidSlots]
}

func (c *uidCache) get(name string) (uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.slots == nil || len(name) > maxCachedName || name == "" {
		return 0, false // an empty slot would match "" as UID 0
	}
	e := c.slot(name)
	if int(e.len) != len(name) || string(e.name[:e.len]) != name {
		return 0, false
	}
	return e.uid, true
}

func (c *uidCache) put(name string, uid uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(name) > maxCachedName || name == "" {
		return
	}
	if c.slots == nil {
		c.slots = new([uidSlots]uidSlot)
	}
	e := c.slot(name)
	e.len = uint8(copy(e.name[:], name))
	e.uid = uid
}

// callerUID asks the bus daemon for the UID of msg's sender.
func (s *Server) callerUID(msg dbus.Message) (uint32, error) { return s.uidOf(sender(msg)) }

// uidOf returns the UID of the unique bus name name: from the cache, or
// from the bus daemon, asked through the socket's own query (see
// uidquery.go).
func (s *Server) uidOf(name string) (uint32, error) {
	if !strings.HasPrefix(name, ":") {
		return 0, errors.New("message has no unique sender")
	}
	if uid, ok := s.uids.get(name); ok {
		return uid, nil
	}
	uid, err := s.sock.unixUser(name)
	if err != nil {
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

// polkitActions maps what a mutating call does to machined's polkit
// action. Calls not listed (registration, OpenPTY) are root-only, as
// machined's vtable-privileged methods are.
var polkitActions = map[string]string{
	"unregister machine":   "org.freedesktop.machine1.manage-machines",
	"terminate machine":    "org.freedesktop.machine1.manage-machines",
	"kill machine":         "org.freedesktop.machine1.manage-machines",
	"copy":                 "org.freedesktop.machine1.manage-machines",
	"bind mount":           "org.freedesktop.machine1.manage-machines",
	"open root directory":  "org.freedesktop.machine1.manage-machines",
	"set pool limit":       "org.freedesktop.machine1.manage-machines",
	"clean pool":           "org.freedesktop.machine1.manage-machines",
	"open shell":           "org.freedesktop.machine1.shell",
	"open host shell":      "org.freedesktop.machine1.host-shell",
	"open login":           "org.freedesktop.machine1.login",
	"open host login":      "org.freedesktop.machine1.host-login",
	"remove image":         "org.freedesktop.machine1.manage-images",
	"rename image":         "org.freedesktop.machine1.manage-images",
	"clone image":          "org.freedesktop.machine1.manage-images",
	"mark image read-only": "org.freedesktop.machine1.manage-images",
	"set image limit":      "org.freedesktop.machine1.manage-images",
	"change image":         "org.freedesktop.machine1.manage-images",
}

// requireRoot fails closed: a sender the bus says is UID 0 passes; any
// other sender passes only if polkit runs and authorizes the call's
// action for the sender's unique bus name. Any error is a denial.
func (s *Server) requireRoot(msg dbus.Message, what string) error {
	action, ok := polkitActions[what]
	if !ok {
		return s.requireRootOnly(sender(msg), what)
	}
	uid, err := s.callerUID(msg)
	if err != nil {
		return fmt.Errorf("%s: cannot determine caller (%v): %w", what, err, errAccessDenied)
	}
	if uid == 0 {
		return nil
	}
	if err := s.polkit(msg, action); err != nil {
		if errors.Is(err, errInteractiveAuth) {
			return fmt.Errorf("%s: UID %d: %w", what, uid, err)
		}
		return fmt.Errorf("%s: UID %d is not allowed (%v): %w", what, uid, err, errAccessDenied)
	}
	return nil
}

// requireRootOnly is requireRoot for what polkit never allows (what is
// not in polkitActions), of the caller with unique bus name name.
func (s *Server) requireRootOnly(name, what string) error {
	uid, err := s.uidOf(name)
	return rootOnly(uid, err, what)
}

// rootOnly is requireRootOnly's verdict on the UID uid, or on the error
// err of its lookup.
func rootOnly(uid uint32, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: cannot determine caller (%v): %w", what, err, errAccessDenied)
	}
	if uid != 0 {
		return fmt.Errorf("%s: UID %d is not allowed: %w", what, uid, errAccessDenied)
	}
	return nil
}

// polkitTimeout bounds a polkit query (it may prompt an agent).
const polkitTimeout = 25 * time.Second

// polkit asks org.freedesktop.PolicyKit1 whether the sender of msg (by
// unique bus name, never by PID) may perform action, with details naming
// the machine or image and the verb, as machined gives them. Interaction
// is allowed only when the caller allowed it in the message; a "yes, after
// authenticating" without that is InteractiveAuthorizationRequired, as
// from machined, so the client can retry with an agent.
func (s *Server) polkit(msg dbus.Message, action string) error {
	subject := struct {
		Kind    string
		Details map[string]dbus.Variant
	}{"system-bus-name", map[string]dbus.Variant{"name": dbus.MakeVariant(sender(msg))}}
	var flags uint32
	if msg.Flags&dbus.FlagAllowInteractiveAuthorization != 0 {
		flags = 1 // AllowUserInteraction
	}
	var result struct {
		Authorized, Challenge bool
		Details               map[string]string
	}
	ctx, cancel := context.WithTimeout(context.Background(), polkitTimeout)
	defer cancel()
	err := s.conn.Object("org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority").CallWithContext(ctx,
		"org.freedesktop.PolicyKit1.Authority.CheckAuthorization", 0,
		subject, action, polkitDetails(msg, action), flags, "").Store(&result)
	if err != nil {
		return fmt.Errorf("polkit: %w", err)
	}
	if result.Challenge && !result.Authorized && flags == 0 {
		return fmt.Errorf("polkit: %s needs authentication: %w", action, errInteractiveAuth)
	}
	if !result.Authorized {
		return fmt.Errorf("polkit denied %s", action)
	}
	return nil
}

// polkitDetails names what a call acts on for polkit rules: "machine" or
// "image" (from the object path, else the first argument) and "verb",
// the method in lower case without its Machine or Image part
// (TerminateMachine and Machine.Terminate are both "terminate").
func polkitDetails(msg dbus.Message, action string) map[string]string {
	member, _ := msg.Headers[dbus.FieldMember].Value().(string)
	d := map[string]string{"verb": polkitVerb(member)}
	key, dir := "machine", machineDir+"/"
	if action == "org.freedesktop.machine1.manage-images" {
		key, dir = "image", imageDir+"/"
	}
	if label, ok := strings.CutPrefix(string(path(msg)), dir); ok && label != "self" {
		d[key] = buslabel.Unescape(label)
	} else if len(msg.Body) > 0 {
		if name, ok := msg.Body[0].(string); ok {
			d[key] = name
		}
	}
	return d
}

// polkitVerb turns a method name into machined's snake-case verb.
func polkitVerb(member string) string {
	member = strings.TrimSuffix(member, "WithFlags")
	member = strings.NewReplacer("Machine", "", "Image", "").Replace(member)
	var b strings.Builder
	for i, r := range member {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
