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
	maps chan [2][]Mapping
	res  chan carrierResult
	done chan struct{}
	once sync.Once
}

type carrierResult struct {
	ns  *UserNS
	err error
}

// StartCarrier starts a carrier in the background and returns at once.
// The process is /proc/self/exe stopped by ptrace before it executes,
// traced by a locked thread that stays with it until Map or Close.
func StartCarrier() *Carrier {
	c := &Carrier{maps: make(chan [2][]Mapping, 1), res: make(chan carrierResult, 1), done: make(chan struct{})}
	go c.run()
	return c
}

// run owns the carrier process. The tracer of a PTRACE_TRACEME child, and
// the thread whose end sends its parent-death signal, is the thread that
// forked it: keep that thread until the child is gone.
func (c *Carrier) run() {
	defer close(c.done)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
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
	startErr := cmd.Start()
	m, ok := <-c.maps
	if startErr != nil {
		c.res <- carrierResult{err: fmt.Errorf("user namespace: start carrier: %w", startErr)}
		return
	}
	var r carrierResult
	if ok {
		r.ns, r.err = mapUserNS(cmd.Process.Pid, m[0], m[1])
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	c.res <- r
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
	sent := false
	c.once.Do(func() {
		c.maps <- [2][]Mapping{uids, gids}
		close(c.maps)
		sent = true
	})
	if !sent {
		return nil, errors.New("user namespace: carrier already used")
	}
	r := <-c.res
	return r.ns, r.err
}

// Close ends the carrier unless Map did, and waits until it is reaped.
func (c *Carrier) Close() {
	c.once.Do(func() { close(c.maps) })
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
