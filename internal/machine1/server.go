package machine1

import (
	"log"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/dbus-interfaces"
	"github.com/berth-dev/berth/internal/buslabel"
	"github.com/berth-dev/berth/internal/enter"
	"github.com/berth-dev/berth/internal/machine"
)

// Object paths.
const (
	ManagerPath = dbus.ObjectPath("/org/freedesktop/machine1")
	machineDir  = string(ManagerPath) + "/machine"
	imageDir    = string(ManagerPath) + "/image"
)

// MachinePath returns the object path of the machine called name.
func MachinePath(name string) dbus.ObjectPath {
	b := buslabel.AppendEscape(append(make([]byte, 0, len(machineDir)+2+3*len(name)), machineDir+"/"...), name)
	return dbus.ObjectPath(unsafe.String(unsafe.SliceData(b), len(b))) // b is never written again
}

// ImagePath returns the object path of the image called name.
func ImagePath(name string) dbus.ObjectPath {
	return dbus.ObjectPath(imageDir + "/" + buslabel.Escape(name))
}

// Machines is what the adapter needs of the machine registry;
// *machine.Registry implements it.
type Machines interface {
	Register(s machine.Spec) (machine.Machine, error)
	Unregister(name string) error
	Get(name string) (machine.Machine, error)
	List() []machine.Machine
	// Generation changes whenever List would change.
	Generation() uint64
	ByPID(pid uint32) (machine.Machine, error)
	Terminate(name string) error
	Kill(name, who string, signal int32) error
	Addresses(name string) ([]machine.Address, error)
	OSRelease(name string) (map[string]string, error)
	UIDShift(name string) (uint32, error)
	MapFromMachine(name string, id uint32, group bool) (uint32, error)
	MapToMachine(id uint32, group bool) (machine.Machine, uint32, error)
	Enter(name string) (*enter.Namespaces, error)
}

// Options configure a Server.
type Options struct {
	// Machines is the registry the bus calls act on.
	Machines Machines
	// Images is the image library; nil makes every image method NotSupported.
	Images Images
	// PoolPath is the Manager's PoolPath property (/var/lib/machines).
	PoolPath string
	// Version is dev.berth.Manager1's Version property.
	Version string
	// Log receives warnings; nil discards them.
	Log *log.Logger
	// Nsenter is the path of nsenter(1), used to enter machines.
	Nsenter string
	// Lifecycle starts, stops and enables machines through units; nil
	// makes those methods of dev.berth.Manager1 NotSupported.
	Lifecycle Lifecycle
	// Network is berthd's container networking; nil if it is off.
	Network Network
	// Settings resolves machines' effective .nspawn settings; nil makes
	// GetEffectiveSettings NotSupported.
	Settings *SettingsSource
}

// Server is the bus adapter. It is a dbus.Handler; ConnectSystemBus
// connects it.
type Server struct {
	opts Options
	conn *dbus.Conn
	// sock is the connection's socket: the server writes its replies
	// itself.
	sock *busSocket
	uids uidCache
	list listCache
	// mutations runs the registrations the fast path takes.
	mutations mutations
	// objects by kind.
	manager, machines, images, machineObj, imageObj object
}

// New returns a Server over opts.
func New(opts Options) *Server {
	if opts.Log == nil {
		opts.Log = log.New(discard{}, "", 0)
	}
	s := &Server{opts: opts, mutations: mutations{queue: make(chan mutation, mutationQueue)}}
	s.manager = object{
		dbusinterfaces.Manager:                s.managerMethods(),
		dbusinterfaces.BerthManager:           merge(s.lifecycleMethods(), s.networkMethods(), s.settingsMethods()),
		"org.freedesktop.DBus.Properties":     s.propertyMethods(s.managerProps),
		"org.freedesktop.DBus.Introspectable": s.introspectMethods(s.introspectManager),
	}
	s.machines = s.directory(s.introspectMachineDir)
	s.images = s.directory(s.introspectImageDir)
	s.machineObj = object{
		dbusinterfaces.Machine:                s.machineMethods(),
		dbusinterfaces.BerthMachine:           iface{},
		"org.freedesktop.DBus.Properties":     s.propertyMethods(s.machineProps),
		"org.freedesktop.DBus.Introspectable": s.introspectMethods(s.introspectMachine),
	}
	s.imageObj = object{
		dbusinterfaces.Image:                  s.imageMethods(),
		"org.freedesktop.DBus.Properties":     s.propertyMethods(s.imageProps),
		"org.freedesktop.DBus.Introspectable": s.introspectMethods(s.introspectImage),
	}
	return s
}

func (s *Server) directory(intro func(dbus.Message) (string, error)) object {
	return object{"org.freedesktop.DBus.Introspectable": s.introspectMethods(intro)}
}

// LookupObject implements dbus.Handler.
func (s *Server) LookupObject(path dbus.ObjectPath) (dbus.ServerObject, bool) {
	o, ok := s.lookupObject(path)
	if o == nil {
		return missing{path: path}, true
	}
	return boundObject{o, s}, ok
}

func (s *Server) lookupObject(path dbus.ObjectPath) (object, bool) {
	p := string(path)
	switch p {
	case string(ManagerPath):
		return s.manager, true
	case machineDir:
		return s.machines, true
	case imageDir:
		return s.images, true
	case "/", "/org", "/org/freedesktop":
		return s.directory(s.introspectParent), true
	}
	if label, ok := strings.CutPrefix(p, machineDir+"/"); ok && !strings.Contains(label, "/") {
		return s.machineObj, true
	}
	if label, ok := strings.CutPrefix(p, imageDir+"/"); ok && !strings.Contains(label, "/") {
		return s.imageObj, true
	}
	return nil, true
}

// path returns the object path a call was made on.
func path(msg dbus.Message) dbus.ObjectPath {
	p, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	return p
}

// machineOf resolves the machine a call on a machine object is for: the
// canonical label of a known machine, or "self".
func (s *Server) machineOf(msg dbus.Message) (machine.Machine, error) {
	label := strings.TrimPrefix(string(path(msg)), machineDir+"/")
	if label == "self" {
		pid, err := s.callerPID(msg)
		if err == nil {
			var m machine.Machine
			if m, err = s.opts.Machines.ByPID(pid); err == nil {
				return m, nil
			}
		}
		return machine.Machine{}, errUnknown(path(msg))
	}
	name := buslabel.Unescape(label)
	m, err := s.opts.Machines.Get(name)
	if err != nil || buslabel.Escape(name) != label {
		return machine.Machine{}, errUnknown(path(msg))
	}
	return m, nil
}

func errUnknown(p dbus.ObjectPath) error {
	return &unknownErr{path: p}
}

type unknownErr struct{ path dbus.ObjectPath }

func (e *unknownErr) Error() string { return "unknown object '" + string(e.path) + "'" }
func (e *unknownErr) Unwrap() error { return errUnknownObject }

// Signals emits the bus signals of registry changes; it is the registry's
// machine.Observer. The zero value drops signals until Attach.
type Signals struct {
	// Log, if set, gets one line per change.
	Log  *log.Logger
	sock atomic.Pointer[busSocket]

	mu sync.Mutex
	// line is the buffer log lines of registrations and removals are
	// built in, without boxing their arguments; guarded by mu.
	line []byte
}

func (g *Signals) logf(format string, args ...any) {
	if g.Log != nil {
		g.Log.Printf(format, args...)
	}
}

// logMachine logs the line that add appends to "machine NAME ".
func (g *Signals) logMachine(name string, add func(b []byte) []byte) {
	if g.Log == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.line == nil {
		g.line = newBuffer()
	}
	g.line = add(append(append(g.line[:0], "machine "...), name...))
	// Output copies the line before it returns.
	_ = g.Log.Output(2, unsafe.String(unsafe.SliceData(g.line), len(g.line)))
	g.line = g.line[:0]
}

// Attach starts emitting on s's bus connection (after ConnectSystemBus).
func (g *Signals) Attach(s *Server) { g.sock.Store(s.sock) }

// emit writes the signal itself, with the wire encoder: godbus's Emit
// allocates several times the message for every signal.
func (g *Signals) emit(path dbus.ObjectPath, iface, member string, args ...any) {
	if sock := g.sock.Load(); sock != nil {
		_ = sock.signal(path, iface, member, dbus.SignatureOf(args...), args)
	}
}

// MachineNew implements machine.Observer. Its log line and signal are
// built without allocating: registrations come a thousand at a time.
func (g *Signals) MachineNew(m machine.Machine) {
	g.logMachine(m.Name, func(b []byte) []byte {
		b = strconv.AppendQuote(append(b, " registered (class "...), string(m.Class))
		b = strconv.AppendUint(append(b, ", leader "...), uint64(m.Leader), 10)
		return append(strconv.AppendQuote(append(b, ", service "...), m.Service), ')')
	})
	if sock := g.sock.Load(); sock != nil {
		_ = sock.machineSignal("MachineNew", m.Name)
	}
}

// MachineRemoved implements machine.Observer, without allocating.
func (g *Signals) MachineRemoved(m machine.Machine) {
	g.logMachine(m.Name, func(b []byte) []byte { return append(b, " removed"...) })
	if sock := g.sock.Load(); sock != nil {
		_ = sock.machineSignal("MachineRemoved", m.Name)
	}
}

// StateChanged implements machine.Observer: PropertiesChanged of
// dev.berth.Machine1.State.
func (g *Signals) StateChanged(m machine.Machine) {
	g.logf("machine %s is %s", m.Name, m.State)
	g.emit(MachinePath(m.Name), "org.freedesktop.DBus.Properties", "PropertiesChanged", dbusinterfaces.BerthMachine,
		map[string]dbus.Variant{"State": dbus.MakeVariant(string(m.State))}, []string{})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
