package machine

import (
	"fmt"
	"log"
	"path/filepath"
	"sort"
	"strings"
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
}

// entry is one registered machine.
type entry struct {
	leader *Process
	// token identifies e in the watcher.
	token uint64
	// pidNS is the inode of the leader's PID namespace.
	pidNS uint64
	// cgroup is the machine's own cgroup2 path ("" if its leader was in
	// no group of its own).
	cgroup string
	// m is guarded by Registry.mu.
	m Machine
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
	go r.watcher.run(func(e *entry) { r.remove(e) })
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
	p, err := OpenProcess(s.Leader)
	if err != nil {
		return Machine{}, fmt.Errorf("register machine: leader: %w", err)
	}
	var m Machine
	e, err := r.newEntry(s, p)
	if err == nil {
		m, err = r.insert(e)
	}
	if err != nil {
		p.Close()
		return Machine{}, fmt.Errorf("register machine %s: %w", s.Name, err)
	}
	r.opts.Observer.MachineNew(m)
	if err := r.watcher.add(e); err != nil {
		r.remove(e)
		return Machine{}, fmt.Errorf("register machine %s: %w", s.Name, err)
	}
	return m, nil
}

func (r *Registry) newEntry(s Spec, p *Process) (*entry, error) {
	ns, err := p.nsInode("pid")
	if err != nil {
		return nil, fmt.Errorf("leader: %w", ErrInvalid)
	}
	real, mono := now()
	cg := procCgroup(s.Leader)
	if !p.Alive() { // so cg is the leader's, not a PID reuser's
		return nil, fmt.Errorf("leader exited: %w", ErrInvalid)
	}
	m := Machine{Spec: s.own(), Unit: unitOf(cg), State: StateRunning, Timestamp: real, TimestampMonotonic: mono}
	e := &entry{leader: p, pidNS: ns, cgroup: r.cg.machineGroup(cg), m: m}
	pack(&e.m.Name, &e.m.Service, &e.m.RootDirectory, &e.m.Unit, &e.cgroup)
	return e, nil
}

// pack copies the strings into one allocation they then share: one heap
// object per machine instead of five small ones, which a long-running
// daemon's heap would scatter among others.
func pack(ss ...*string) {
	n := 0
	for _, s := range ss {
		n += len(*s)
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range ss {
		b.WriteString(*s)
	}
	all := b.String()
	for _, s := range ss {
		*s, all = all[:len(*s)], all[len(*s):]
	}
}

// own returns a copy of s whose slices share no memory with the
// caller's, and whose class is one of the constants; its strings still
// do (newEntry packs them into memory of its own). A bus decoder's
// strings point into a buffer of the whole message, which a kept string
// would keep alive.
func (s Spec) own() Spec {
	switch s.Class {
	case ClassContainer:
		s.Class = ClassContainer
	case ClassVM:
		s.Class = ClassVM
	}
	s.ID = append([]byte(nil), s.ID...)
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
	case r.machines.get(e.m.Name) != nil:
		return Machine{}, fmt.Errorf("machine %q already exists: %w", e.m.Name, ErrExists)
	case r.ledByLocked(e.m.Leader) != nil:
		return Machine{}, fmt.Errorf("process %d already leads machine %q: %w", e.m.Leader, r.ledByLocked(e.m.Leader).m.Name, ErrExists)
	case len(r.machines) >= r.opts.MaxMachines:
		return Machine{}, fmt.Errorf("%d machines registered: %w", len(r.machines), ErrLimit)
	}
	if err := r.store.save(record{Machine: e.m, LeaderID: e.leader.ID}); err != nil {
		return Machine{}, err
	}
	r.addLocked(e)
	return e.m, nil
}

func (r *Registry) addLocked(e *entry) {
	r.machines.put(e)
	r.generation++
}

// ledByLocked returns the entry whose leader is pid, or nil.
func (r *Registry) ledByLocked(pid uint32) *entry {
	for _, e := range r.machines {
		if e.m.Leader == pid {
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
		if e.cgroup == g && (found == nil || e.m.TimestampMonotonic < found.m.TimestampMonotonic ||
			e.m.TimestampMonotonic == found.m.TimestampMonotonic && e.m.Name < found.m.Name) {
			found = e
		}
	}
	return found
}

// remove drops e if it is still registered, deletes its state file and
// tells the observer.
func (r *Registry) remove(e *entry) bool {
	r.mu.Lock()
	if r.machines.get(e.m.Name) != e {
		r.mu.Unlock()
		return false
	}
	r.machines.del(e.m.Name)
	r.generation++
	if err := r.store.remove(e.m.Name); err != nil {
		r.opts.Log.Printf("warning: %v", err)
	}
	m := e.m
	r.mu.Unlock()
	r.watcher.drop(e)
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
		return e.m, nil
	}
	return Machine{}, fmt.Errorf("no machine %q known: %w", name, ErrNotFound)
}

// List returns the host and every machine, sorted by name.
func (r *Registry) List() []Machine {
	r.mu.RLock()
	out := make([]Machine, 0, len(r.machines)+1)
	out = append(out, r.host)
	for _, e := range r.machines {
		out = append(out, e.m)
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
