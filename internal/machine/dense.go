package machine

import (
	"sync"
	"unsafe"
)

// The registry keeps its machines in memory of their own: entries are
// carved from chunks of entriesPerChunk, and a machine's strings and ID
// from chunks of bytes. Allocated one by one, the entries and strings
// of a burst of registrations land among that burst's garbage, in the
// same size classes; once the garbage is collected, every span that
// keeps one machine's object stays resident, and berthd's memory grew
// by several times the machines' data. A chunk holds nothing but
// machines' data, so the memory kept is the data. An entry is compact
// (about 140 bytes): one string holds all of a machine's strings and its
// ID, and the class and state are small numbers; machine builds the
// Machine the API returns, without allocating.
//
// Chunks are never reused by hand: a chunk is garbage collected once no
// entry or string in it is referenced, so a stale *entry or a snapshot's
// string can never see another machine's data. A chunk is thus like a
// span of the Go heap that garbage never shares: at worst it stays
// resident for one live machine.

// entry is one registered machine. All but state is set before the
// entry is added to the registry and never changes after.
type entry struct {
	// leader is the machine's leader, held by its pidfd (its PID is the
	// machine's Leader).
	leader Process
	// token identifies e in the watcher's events: unique for the
	// registry's life, set when e is added.
	token uint64
	// pidNS is the inode of the leader's PID namespace.
	pidNS uint64
	// real and mono are the Timestamp and TimestampMonotonic.
	real, mono uint64
	// strs holds, one after the other, the name, service, root directory,
	// unit and ID (of the lengths below) and the machine's own cgroup2
	// path ("" if its leader was in no group of its own) to the end.
	strs string
	// ifaces are the NetworkInterfaces.
	ifaces []int32
	// The lengths of the parts of strs.
	nameLen, idLen               uint8
	serviceLen, rootLen, unitLen uint16
	// classIdx indexes classes.
	classIdx uint8
	// stateIdx indexes states; guarded by Registry.mu.
	stateIdx uint8
}

// classes and states are what entry.class and entry.state index.
var (
	classes = [...]Class{ClassUnknown, ClassContainer, ClassVM, ClassHost}
	states  = [...]State{StateOpening, StateRunning, StateClosing}
)

// part returns the n bytes of e.strs from *at on and moves *at past them.
func (e *entry) part(at *int, n int) string {
	s := e.strs[*at : *at+n]
	*at += n
	return s
}

// name returns the machine's name.
func (e *entry) name() string { return e.strs[:e.nameLen] }

// class returns the machine's class.
func (e *entry) class() Class { return classes[e.classIdx] }

// cgroup returns the machine's own cgroup2 path, "" if none.
func (e *entry) cgroup() string {
	return e.strs[int(e.nameLen)+int(e.serviceLen)+int(e.rootLen)+int(e.unitLen)+int(e.idLen):]
}

// stateLocked returns the machine's state; Registry.mu must be held.
func (e *entry) stateLocked() State { return states[e.stateIdx] }

// setStateLocked sets the machine's state; Registry.mu must be held for
// writing.
func (e *entry) setStateLocked(s State) { e.stateIdx = index(states[:], s) }

// machine returns a snapshot of the machine; Registry.mu must be held
// (for the state). Its strings and ID share e's memory: callers must not
// change the ID's bytes.
func (e *entry) machine() Machine {
	at := 0
	m := Machine{State: states[e.stateIdx], Timestamp: e.real, TimestampMonotonic: e.mono}
	m.Name = e.part(&at, int(e.nameLen))
	m.Service = e.part(&at, int(e.serviceLen))
	m.RootDirectory = e.part(&at, int(e.rootLen))
	m.Unit = e.part(&at, int(e.unitLen))
	if id := e.part(&at, int(e.idLen)); id != "" {
		m.ID = unsafe.Slice(unsafe.StringData(id), len(id))
	}
	m.Class, m.Leader, m.NetworkInterfaces = classes[e.classIdx], e.leader.PID, e.ifaces
	return m
}

// index returns the position of v in vs (0 if it is not there: callers
// pass only values that were validated).
func index[T comparable](vs []T, v T) uint8 {
	for i, x := range vs {
		if x == v {
			return uint8(i)
		}
	}
	return 0
}

// entriesPerChunk is how many entries a chunk holds (8 KiB of entries).
const entriesPerChunk = 8192 / int(unsafe.Sizeof(entry{}))

// bytesPerChunk is the size of a chunk of strings; a machine whose
// strings take more than a quarter of it gets an allocation of its own.
const bytesPerChunk = 4096

// dense carves entries and strings from chunks. Its methods may run
// concurrently.
type dense struct {
	mu sync.Mutex
	// entries is the unused rest of the current entry chunk; guarded by mu.
	entries []entry
	// bytes is the unused rest of the current byte chunk; guarded by mu.
	bytes []byte
}

// entry returns a new zero entry.
func (d *dense) entry() *entry {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.entries) == 0 {
		d.entries = make([]entry, entriesPerChunk)
	}
	e := &d.entries[0]
	d.entries = d.entries[1:]
	return e
}

// keep stores m (validated, its unit at most MaxPathLen bytes, so every
// length fits the entry's fields) and the
// machine's own cgroup in e, whose leader is m's, copying the strings and
// ID into chunk memory: a registration's strings point into the caller's
// buffers (a bus message, a state file), which they would keep alive.
func (d *dense) keep(e *entry, m Machine, cgroup string) {
	n := len(m.Name) + len(m.Service) + len(m.RootDirectory) + len(m.Unit) + len(m.ID) + len(cgroup)
	buf := d.carve(n)
	at := copy(buf, m.Name)
	at += copy(buf[at:], m.Service)
	at += copy(buf[at:], m.RootDirectory)
	at += copy(buf[at:], m.Unit)
	at += copy(buf[at:], m.ID)
	copy(buf[at:], cgroup)
	e.strs = unsafe.String(unsafe.SliceData(buf), n)
	e.nameLen, e.idLen = uint8(len(m.Name)), uint8(len(m.ID))
	e.serviceLen, e.rootLen, e.unitLen = uint16(len(m.Service)), uint16(len(m.RootDirectory)), uint16(len(m.Unit))
	e.ifaces, e.real, e.mono = m.NetworkInterfaces, m.Timestamp, m.TimestampMonotonic
	e.classIdx, e.stateIdx = index(classes[:], m.Class), index(states[:], m.State)
}

// carve returns n bytes of chunk memory, never handed out before and
// never written again after its caller filled it.
func (d *dense) carve(n int) []byte {
	if n > bytesPerChunk/4 {
		return make([]byte, n)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.bytes) < n {
		d.bytes = make([]byte, bytesPerChunk)
	}
	b := d.bytes[:n:n]
	d.bytes = d.bytes[n:]
	return b
}
