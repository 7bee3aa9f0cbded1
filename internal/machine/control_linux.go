//go:build linux

package machine

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// Kill targets: who in KillMachine.
const (
	KillAll    = "all"
	KillLeader = "leader"
)

// sigRTMIN3 is SIGRTMIN+3, which systemd (and systemd-nspawn's
// --kill-signal default with --boot) uses as "halt".
const sigRTMIN3 = unix.Signal(34 + 3)

// Terminate asks a machine to stop: State becomes closing; a leader that
// is its PID namespace's init gets SIGRTMIN+3 (an orderly halt for
// systemd-compatible inits, as newer machined sends) and the other
// processes SIGTERM; any other leader gets SIGTERM. If the leader still
// runs after StopTimeout, every process gets SIGKILL. The machine goes
// away when its leader exits.
func (r *Registry) Terminate(name string) error {
	e, err := r.killable(name)
	if err != nil {
		return fmt.Errorf("terminate: %w", err)
	}
	if m, changed := r.setState(e, StateClosing); changed {
		r.opts.Observer.StateChanged(m)
	}
	if e.pidNS != r.hostPidNS {
		_ = e.leader.Signal(sigRTMIN3)
		r.signalOthers(e, unix.SIGTERM)
	} else {
		r.signalAll(e, unix.SIGTERM)
	}
	time.AfterFunc(r.opts.StopTimeout, func() {
		if r.current(e) {
			r.signalAll(e, unix.SIGKILL)
		}
	})
	return nil
}

// Kill sends signal to the leader (who "leader") or to every process of
// the machine (who "" or "all").
func (r *Registry) Kill(name, who string, signal int32) error {
	if who != "" && who != KillAll && who != KillLeader {
		return fmt.Errorf("kill: invalid kill parameter %q: %w", who, ErrInvalid)
	}
	if signal < 1 || signal > 64 {
		return fmt.Errorf("kill: invalid signal %d: %w", signal, ErrInvalid)
	}
	e, err := r.killable(name)
	if err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	if who == KillLeader {
		if err := e.leader.Signal(unix.Signal(signal)); err != nil {
			return fmt.Errorf("kill: %w", err)
		}
		return nil
	}
	r.signalAll(e, unix.Signal(signal))
	return nil
}

func (r *Registry) killable(name string) (*entry, error) {
	e, err := r.lookup(name)
	if err != nil {
		return nil, err
	}
	if !e.class().Killable() {
		return nil, fmt.Errorf("machine %q of class %q: %w", name, e.class(), ErrNotSupported)
	}
	return e, nil
}

func (r *Registry) setState(e *entry, s State) (Machine, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := r.machines.get(e.name()) == e && e.stateLocked() != s
	if changed {
		e.setStateLocked(s)
		r.generation++
	}
	return e.machine(), changed
}

func (r *Registry) current(e *entry) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.machines.get(e.name()) == e
}

// signalAll signals the leader and every other process of the machine.
func (r *Registry) signalAll(e *entry, sig unix.Signal) {
	if err := e.leader.Signal(sig); err != nil {
		r.opts.Log.Printf("warning: signal leader of %s: %v", e.name(), err)
	}
	r.signalOthers(e, sig)
}

// signalOthers signals every process of the machine but the leader: those
// in the machine's own cgroup and below (SIGKILL through cgroup.kill on a
// pure cgroup v2 host), and those in the leader's own PID namespace (none
// when it shares the daemon's). Each is signalled through its own pidfd
// after checking its group or namespace, so a PID reused in between is
// never hit.
func (r *Registry) signalOthers(e *entry, sig unix.Signal) {
	done := map[uint32]bool{e.leader.PID: true}
	if cg := e.cgroup(); cg != "" && (sig != unix.SIGKILL || r.cg.kill(cg) != nil) {
		r.cg.signalGroup(cg, sig, done)
	}
	if e.pidNS == r.hostPidNS {
		return
	}
	for _, pid := range pidNSMembers(e.pidNS) {
		if done[pid] {
			continue
		}
		p, err := OpenProcess(pid)
		if err != nil {
			continue
		}
		if ns, err := p.nsInode("pid"); err == nil && ns == e.pidNS {
			_ = p.Signal(sig)
		}
		p.Close()
	}
}

// ByPID returns the machine a process belongs to, as machined finds it:
// the machine it leads, else the machine whose own cgroup holds it (at
// any depth), else the machine whose private PID namespace it is in. pid
// is in the daemon's PID namespace.
func (r *Registry) ByPID(pid uint32) (Machine, error) {
	r.mu.RLock()
	e := r.ledByLocked(pid)
	r.mu.RUnlock()
	if e != nil {
		return r.Get(e.name())
	}
	if m, ok := r.byCgroup(pid); ok {
		return m, nil
	}
	var st unix.Stat_t
	if pid != 0 && unix.Stat("/proc/"+strconv.FormatUint(uint64(pid), 10)+"/ns/pid", &st) == nil && st.Ino != r.hostPidNS {
		r.mu.RLock()
		defer r.mu.RUnlock()
		for _, e := range r.machines {
			if e.pidNS == st.Ino {
				return e.machine(), nil
			}
		}
	}
	return Machine{}, fmt.Errorf("PID %d does not belong to any known machine: %w", pid, ErrNoMachineForPID)
}

// byCgroup finds the machine whose own cgroup holds pid.
func (r *Registry) byCgroup(pid uint32) (Machine, bool) {
	if pid == 0 {
		return Machine{}, false
	}
	g := r.cg.of(pid)
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, a := range ancestors(g) {
		if e := r.inGroupLocked(a); e != nil {
			return e.machine(), true
		}
	}
	return Machine{}, false
}

// now returns CLOCK_REALTIME and CLOCK_MONOTONIC in µs.
func now() (uint64, uint64) {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(time.Now().UnixMicro()), uint64(ts.Nano() / 1000)
}

// procCgroup reads /proc/PID/cgroup into buf (a file larger than buf
// into a new buffer); nil if it cannot. With buf on the caller's stack,
// the read leaves no garbage.
func procCgroup(pid uint32, buf []byte) []byte {
	var path kernel.Path
	data, err := readProc(path.Add("/proc/").AddUint(uint64(pid)).Add("/cgroup"), buf)
	if err != nil {
		return nil
	}
	return data
}

// unitOf returns the systemd unit of a /proc/PID/cgroup file's process,
// from the last .service or .scope component of its cgroup path ("" if
// none). The result shares no memory with cgroupFile.
func unitOf(cgroupFile []byte) string {
	var best []byte
	for rest := cgroupFile; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		_, line, ok1 := bytes.Cut(line, []byte(":"))
		ctrl, path, ok2 := bytes.Cut(line, []byte(":"))
		if !ok1 || !ok2 || (len(ctrl) != 0 && string(ctrl) != "name=systemd") {
			continue
		}
		for len(path) > 0 {
			var c []byte
			c, path, _ = bytes.Cut(path, []byte("/"))
			if bytes.HasSuffix(c, []byte(".service")) || bytes.HasSuffix(c, []byte(".scope")) {
				best = c
			}
		}
	}
	return string(best)
}
