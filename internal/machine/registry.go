package machine

import (
	"fmt"
	"log"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/paths"
)

// Observer is told about machines coming and going. Calls are made
// without registry locks held, never concurrently for one machine's New
// and Removed, and New always before Removed.
type Observer interface {
	MachineNew(m Machine)
	MachineRemoved(m Machine)
	StateChanged(m Machine)
}

// Options configure a Registry.
type Options struct {
	// Paths locate the state directory (Paths.Run/machines).
	Paths paths.Paths
	// Log receives warnings; nil discards them.
	Log *log.Logger
	// Observer is told about changes; nil ignores them.
	Observer Observer
	// StopTimeout is how long Terminate waits after SIGTERM before SIGKILL
	// (default 90s, systemd's TimeoutStopSec).
	StopTimeout time.Duration
	// MaxMachines bounds the registry (default 8192).
	MaxMachines int
	// Self is the daemon's PID, never accepted as a leader (default: ours).
	Self uint32
}

// Registry holds the registered machines.
type Registry struct {
	opts    Options
	store   store
	host    Machine
	watcher *watcher
	cg      cgroups
	// hostPidNS and hostNetNS are the daemon's own namespace inodes.
	hostPidNS, hostNetNS uint64
	// dense holds the entries and their strings.
	dense dense

	mu sync.RWMutex
	// machines holds the entries sorted by name; guarded by mu. It is
	// the only index: lookups by leader or cgroup (registration,
	// GetMachineByPID) walk it, which costs microseconds at the
	// registry's size bound and saves the memory of two more indexes per
	// machine.
	machines byName
	// closed is set by Close; guarded by mu.
	closed bool
	// generation counts changes to machines and their states; guarded
	// by mu.
	generation uint64
	// tokens counts the entries added, to give each its token; guarded
	// by mu.
	tokens uint64
}

// New returns a registry holding the machines of the state files still
// alive. It needs root to open other users' pidfds.
func New(opts Options) (*Registry, error) {
	opts = withDefaults(opts)
	r := &Registry{
		opts:  opts,
		store: store{dir: filepath.Join(opts.Paths.Run, "machines")},
		cg:    newCgroups(opts.Paths.Cgroup),
	}
	var err error
	if r.hostPidNS, err = selfNSInode("pid"); err != nil {
		return nil, fmt.Errorf("new registry: %w", err)
	}
	if r.hostNetNS, err = selfNSInode("net"); err != nil {
		return nil, fmt.Errorf("new registry: %w", err)
	}
	r.host = hostMachine()
	if r.watcher, err = newWatcher(); err != nil {
		return nil, err
	}
	if err := r.reload(); err != nil {
		r.watcher.close()
		return nil, err
	}
	go r.watcher.run(r.exited)
	return r, nil
}

func withDefaults(o Options) Options {
	if o.Log == nil {
		o.Log = log.New(discard{}, "", 0)
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 90 * time.Second
	}
	if o.MaxMachines <= 0 {
		o.MaxMachines = 8192
	}
	if o.Self == 0 {
		o.Self = uint32(osGetpid())
	}
	return o
}

// Register validates s, takes hold of its leader and adds the machine.
// A Leader of 0 must have been replaced by the caller's PID already.
func (r *Registry) Register(s Spec) (Machine, error) {
	if err := s.Validate(r.opts.Self); err != nil {
		return Machine{}, fmt.Errorf("register machine: %w", err)
	}
	e := r.dense.entry()
	if err := e.leader.open(s.Leader); err != nil {
		return Machine{}, fmt.Errorf("register machine: leader: %w", err)
	}
	m, err := r.fill(e, s)
	if err == nil {
		m, err = r.insert(e)
	}
	if err != nil {
		e.leader.Close()
		return Machine{}, fmt.Errorf("register machine %s: %w", s.Name, err)
	}
	r.opts.Observer.MachineNew(m)
	if err := r.watcher.add(e); err != nil {
		r.remove(e)
		return Machine{}, fmt.Errorf("register machine %s: %w", s.Name, err)
	}
	return m, nil
}

// fill completes e, whose leader is open, for a registration of s.
func (r *Registry) fill(e *entry, s Spec) (Machine, error) {
	ns, err := e.leader.nsInode("pid")
	if err != nil {
		return Machine{}, fmt.Errorf("leader: %w", ErrInvalid)
	}
	real, mono := now()
	var buf [1024]byte
	cg := procCgroup(s.Leader, buf[:])
	if !e.leader.Alive() { // so cg is the leader's, not a PID reuser's
		return Machine{}, fmt.Errorf("leader exited: %w", ErrInvalid)
	}
	e.pidNS = ns
	m := Machine{Spec: s.own(), Unit: unitOf(cg), State: StateRunning, Timestamp: real, TimestampMonotonic: mono}
	r.dense.keep(e, m, r.cg.machineGroup(cg))
	return e.machine(), nil
}

// own returns a copy of s whose network interfaces share no memory with
// the caller's, and whose class is one of the constants; its strings and
// ID still do (dense.keep copies them into memory of its own). A bus
// decoder's strings point into a buffer of the whole message, which a
// kept string would keep alive.
func (s Spec) own() Spec {
	switch s.Class {
	case ClassContainer:
		s.Class = ClassContainer
	case ClassVM:
		s.Class = ClassVM
	}
	s.NetworkInterfaces = append([]int32(nil), s.NetworkInterfaces...)
	return s
}

// insert adds e after the uniqueness and size checks, writing its state
// file first, and returns a snapshot of its machine.
func (r *Registry) insert(e *entry) (Machine, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return Machine{}, fmt.Errorf("registry closed: %w", ErrNotSupported)
	case r.machines.get(e.name()) != nil:
		return Machine{}, fmt.Errorf("machine %q already exists: %w", e.name(), ErrExists)
	case r.ledByLocked(e.leader.PID) != nil:
		return Machine{}, fmt.Errorf("process %d already leads machine %q: %w", e.leader.PID, r.ledByLocked(e.leader.PID).name(), ErrExists)
	case len(r.machines) >= r.opts.MaxMachines:
		return Machine{}, fmt.Errorf("%d machines registered: %w", len(r.machines), ErrLimit)
	}
	m := e.machine()
	if err := r.store.save(record{Machine: m, LeaderID: e.leader.ID}); err != nil {
		return Machine{}, err
	}
	r.addLocked(e)
	return m, nil
}

func (r *Registry) addLocked(e *entry) {
	r.tokens++
	e.token = r.tokens
	r.machines.put(e)
	r.generation++
}

// exited removes the machine whose leader's exit the watcher reported
// under token, if it is still registered.
func (r *Registry) exited(token uint64) {
	r.mu.RLock()
	var found *entry
	for _, e := range r.machines {
		if e.token == token {
			found = e
			break
		}
	}
	r.mu.RUnlock()
	if found != nil {
		r.watcher.forget(found)
		r.remove(found)
	}
}

// ledByLocked returns the entry whose leader is pid, or nil.
func (r *Registry) ledByLocked(pid uint32) *entry {
	for _, e := range r.machines {
		if e.leader.PID == pid {
			return e
		}
	}
	return nil
}

// inGroupLocked returns the entry whose own cgroup is g, the oldest if
// several share it, or nil.
func (r *Registry) inGroupLocked(g string) *entry {
	var found *entry
	for _, e := range r.machines {
		if e.cgroup() == g && (found == nil || e.mono < found.mono || e.mono == found.mono && e.name() < found.name()) {
			found = e
		}
	}
	return found
}

// remove drops e if it is still registered, deletes its state file and
// tells the observer.
func (r *Registry) remove(e *entry) bool {
	r.mu.Lock()
	if r.machines.get(e.name()) != e {
		r.mu.Unlock()
		return false
	}
	r.machines.del(e.name())
	r.generation++
	if err := r.store.remove(e.name()); err != nil {
		r.opts.Log.Printf("warning: %v", err)
	}
	m := e.machine()
	r.mu.Unlock()
	e.leader.Close()
	r.opts.Observer.MachineRemoved(m)
	return true
}

// Unregister forgets a machine without touching its processes.
func (r *Registry) Unregister(name string) error {
	e, err := r.lookup(name)
	if err != nil {
		return fmt.Errorf("unregister: %w", err)
	}
	if !r.remove(e) {
		return fmt.Errorf("unregister: machine %q: %w", name, ErrNotFound)
	}
	return nil
}

func (r *Registry) lookup(name string) (*entry, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e := r.machines.get(name); e != nil {
		return e, nil
	}
	if name == HostName {
		return nil, fmt.Errorf("machine %q: %w", name, ErrNotSupported)
	}
	return nil, fmt.Errorf("no machine %q known: %w", name, ErrNotFound)
}

// Get returns the machine called name; HostName is the host.
func (r *Registry) Get(name string) (Machine, error) {
	if name == HostName {
		return r.host, nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e := r.machines.get(name); e != nil {
		return e.machine(), nil
	}
	return Machine{}, fmt.Errorf("no machine %q known: %w", name, ErrNotFound)
}

// List returns the host and every machine, sorted by name.
func (r *Registry) List() []Machine {
	r.mu.RLock()
	out := make([]Machine, 0, len(r.machines)+1)
	out = append(out, r.host)
	for _, e := range r.machines {
		out = append(out, e.machine())
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Generation changes whenever a machine is added or removed or changes
// state, so a caller may cache what it derives from List.
func (r *Registry) Generation() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.generation
}

// Len returns how many machines are registered (the host not counted).
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.machines)
}

// Close stops watching the leaders. Machines keep running and their state
// files stay, for the next daemon to reload.
func (r *Registry) Close() {
	r.mu.Lock()
	r.closed = true
	es := make([]*entry, 0, len(r.machines))
	for _, e := range r.machines {
		es = append(es, e)
	}
	r.machines = nil
	r.generation++
	r.mu.Unlock()
	r.watcher.close()
	for _, e := range es {
		e.leader.Close()
	}
}

type nopObserver struct{}

func (nopObserver) MachineNew(Machine)     {}
func (nopObserver) MachineRemoved(Machine) {}
func (nopObserver) StateChanged(Machine)   {}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
