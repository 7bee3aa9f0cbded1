package idmap

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Carrier is a process started in a new user namespace that has no ID
// mapping yet: the expensive part of NewUserNS (a process to create), begun
// before the mapping is known. Map gives the namespace its mapping and
// returns it open; Close ends a carrier that is not needed. Either ends
// and reaps the process. Use a Carrier from one goroutine.
type Carrier struct {
	lazy StartFunc // the start of a carrier made at Map time (NewCarrier)
	maps chan [2][]Mapping
	res  chan carrierResult
	done chan struct{}
	once sync.Once
}

type carrierResult struct {
	ns  *UserNS
	err error
}

// StartFunc starts a carrier process: a child in a new user namespace
// without an ID mapping, on the calling thread, which stays locked until
// the carrier ends (the tracer of a traced child, and the thread whose end
// sends a child's parent-death signal, is the thread that started it). It
// returns the child's PID and end, which kills and reaps it.
type StartFunc func() (pid int, end func(), err error)

// StartCarrier starts a carrier in the background and returns at once.
// The process is /proc/self/exe stopped by ptrace before it executes,
// traced by a locked thread that stays with it until Map or Close.
func StartCarrier() *Carrier {
	c := &Carrier{maps: make(chan [2][]Mapping, 1), res: make(chan carrierResult, 1), done: make(chan struct{})}
	go c.run(startTraced)
	return c
}

// NewCarrier returns a carrier whose process start makes only when Map is
// called, on the caller's thread: for a start cheaper than the hand-off to
// and from another thread that StartCarrier's early start needs (a
// program with its own clone of a waiting child). Close does nothing
// then.
func NewCarrier(start StartFunc) *Carrier {
	c := &Carrier{lazy: start, done: make(chan struct{})}
	close(c.done)
	return c
}

// run owns the carrier process, on a thread locked until it is reaped.
func (c *Carrier) run(start StartFunc) {
	defer close(c.done)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, end, startErr := start()
	m, ok := <-c.maps
	if startErr != nil {
		c.res <- carrierResult{err: fmt.Errorf("user namespace: start carrier: %w", startErr)}
		return
	}
	var r carrierResult
	if ok {
		r.ns, r.err = mapUserNS(pid, m[0], m[1])
	}
	end()
	c.res <- r
}

// startTraced starts /proc/self/exe in a new user namespace, stopped by
// ptrace before it executes anything: the carrier of any Go program.
func startTraced() (int, func(), error) {
	cmd := &exec.Cmd{
		Path: "/proc/self/exe",
		Args: []string{"berth-idmap-userns"},
		Env:  []string{},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWUSER,
			Ptrace:     true,
			Pdeathsig:  syscall.SIGKILL,
		},
	}
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	return cmd.Process.Pid, func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }, nil
}

// Map writes the mappings of the carrier's namespace (setgroups denied)
// and returns the namespace open; the carrier is killed and reaped before
// Map returns. A carrier is mapped once.
func (c *Carrier) Map(uids, gids []Mapping) (*UserNS, error) {
	if err := Validate(uids); err != nil {
		c.Close()
		return nil, fmt.Errorf("user namespace uid map: %w", err)
	}
	if err := Validate(gids); err != nil {
		c.Close()
		return nil, fmt.Errorf("user namespace gid map: %w", err)
	}
	var r *carrierResult
	c.once.Do(func() {
		if c.lazy != nil {
			r = mapNow(c.lazy, uids, gids)
			return
		}
		c.maps <- [2][]Mapping{uids, gids}
		close(c.maps)
		res := <-c.res
		r = &res
	})
	if r == nil {
		return nil, errors.New("user namespace: carrier already used")
	}
	return r.ns, r.err
}

// mapNow makes a carrier with start on the calling thread, maps its
// namespace, opens it and ends the carrier.
func mapNow(start StartFunc, uids, gids []Mapping) *carrierResult {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, end, err := start()
	if err != nil {
		return &carrierResult{err: fmt.Errorf("user namespace: start carrier: %w", err)}
	}
	defer end()
	ns, err := mapUserNS(pid, uids, gids)
	return &carrierResult{ns: ns, err: err}
}

// Close ends the carrier unless Map did, and waits until it is reaped.
func (c *Carrier) Close() {
	c.once.Do(func() {
		if c.maps != nil {
			close(c.maps)
		}
	})
	<-c.done
}

// mapUserNS writes the maps of the user namespace of process pid (as the
// parent namespace's root) and opens it.
func mapUserNS(pid int, uids, gids []Mapping) (*UserNS, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	for _, f := range []struct {
		name, data string
	}{{"setgroups", "deny"}, {"gid_map", mapText(gids)}, {"uid_map", mapText(uids)}} {
		if err := os.WriteFile(dir+f.name, []byte(f.data), 0); err != nil {
			return nil, fmt.Errorf("user namespace: write %s: %w", f.name, err)
		}
	}
	return OpenUserNS(pid)
}

// mapText is the uid_map/gid_map form of ms.
func mapText(ms []Mapping) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%d %d %d\n", m.Inner, m.Outer, m.Size)
	}
	return b.String()
}
