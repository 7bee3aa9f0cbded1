package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/unitgen"
)

func (s *Supervisor) runDir() string             { return filepath.Join(s.p.Run, "supervisor") }
func (s *Supervisor) unitDir(unit string) string { return filepath.Join(s.runDir(), unit) }

// transition runs fn with the unit's locks held: the in-process mutex and
// an exclusive flock on the unit's lock file, so one transition of a unit
// runs at a time, also across supervisor processes.
func (s *Supervisor) transition(unit string, fn func(dir string) error) error {
	if err := validUnitName(unit); err != nil {
		return err
	}
	l := s.unitLock(unit)
	l.Lock()
	defer l.Unlock()
	dir := s.unitDir(unit)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := kernel.Retry("flock", func() error { return unix.Flock(int(f.Fd()), unix.LOCK_EX) }); err != nil {
		return err
	}
	return fn(dir)
}

// running returns the unit's status and whether it runs: its monitor is
// alive, or the monitor died (SIGKILL, OOM) and left the unit's processes
// running unsupervised (orphaned; Stop kills them).
func running(dir string) (Status, bool, error) {
	st, on, _, err := supervised(dir)
	return st, on, err
}

// supervised is running, and also reports whether the unit's monitor is
// alive (on and not monitored is an orphaned unit).
func supervised(dir string) (st Status, on, monitored bool, err error) {
	if st, err = readStatus(dir); err != nil {
		return st, false, false, err
	}
	if alive(st.MonitorPID, st.MonitorStart) {
		return st, true, true, nil
	}
	// A monitor writes its last status just before it exits: read the file
	// again once it is seen gone, so that a status read before that last
	// write is not taken for the monitor's final word.
	if st, err = readStatus(dir); err != nil {
		return st, false, false, err
	}
	if alive(st.MonitorPID, st.MonitorStart) {
		return st, true, true, nil
	}
	return st, orphaned(st), false, nil
}

// orphaned reports whether a unit whose monitor is dead still has
// processes.
func orphaned(st Status) bool {
	if st.State == Inactive || st.State == Failed || st.Cgroup == "" {
		return false
	}
	return !(&group{Dirs: []string{st.Cgroup}}).empty()
}

// Start starts u and returns once it is running (for Type=notify: once
// the main process sent READY=1), or failed. Starting a running unit is
// ErrRunning; concurrent starts of one unit start it once.
func (s *Supervisor) Start(ctx context.Context, u unitgen.Unit) error {
	if len(u.ExecStart) == 0 {
		return fmt.Errorf("start %s: %w: no ExecStart", u.Name, ErrBadUnit)
	}
	return s.transition(u.Name, func(dir string) error {
		if _, on, err := running(dir); err != nil {
			return fmt.Errorf("start %s: %w", u.Name, err)
		} else if on {
			return fmt.Errorf("start %s: %w", u.Name, ErrRunning)
		}
		sp := spec{Unit: u, Log: filepath.Join(s.p.Log, u.Machine+".log"), CgroupRoot: s.p.Cgroup}
		if err := writeJSON(dir, specFile, sp); err != nil {
			return fmt.Errorf("start %s: %w", u.Name, err)
		}
		if err := s.spawnMonitor(ctx, dir, sp.Log); err != nil {
			return fmt.Errorf("start %s: %w", u.Name, err)
		}
		return nil
	})
}

// spawnMonitor has the unit's monitor run it: the spare monitor if there
// is one, else a new monitor, detached in a session of its own. It waits
// for the monitor's answer on the start pipe.
func (s *Supervisor) spawnMonitor(ctx context.Context, dir, log string) error {
	defer s.replenish(spareDelay)
	m := s.takeSpare()
	if m != nil && m.give(dir) != nil { // the spare is gone
		m.close()
		m = nil
	}
	if m == nil {
		// The monitor's own output (a crash, above all) goes to the log too.
		out, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o640)
		if err != nil {
			return err
		}
		m, err = s.startMonitor(dir, out)
		out.Close()
		if err != nil {
			return err
		}
	}
	defer m.close()
	answer := make(chan error, 1)
	go func() { answer <- awaitAnswer(m.answer) }()
	select {
	case err := <-answer:
		return err
	case <-ctx.Done():
		// The monitor goes on; Stop can end it.
		return ctx.Err()
	}
}

// StopOptions tune Stop.
type StopOptions struct {
	// Force skips KillSignal and the stop timeout: SIGKILL of the whole
	// cgroup at once.
	Force bool
}

// Stop stops a running unit: KillSignal to the main process (or the whole
// cgroup for KillMode=control-group), then SIGKILL of the whole cgroup
// after TimeoutStopSec; it returns when the unit is down or ctx ends.
// A unit whose monitor died is killed directly through its cgroup.
func (s *Supervisor) Stop(ctx context.Context, unit string, o StopOptions) error {
	return s.transition(unit, func(dir string) error { return s.stopLocked(ctx, dir, unit, o) })
}

func (s *Supervisor) stopLocked(ctx context.Context, dir, unit string, o StopOptions) error {
	st, on, monitored, err := supervised(dir)
	if err != nil {
		return fmt.Errorf("stop %s: %w", unit, err)
	}
	if !on || st.State == Inactive || st.State == Failed {
		// An ended unit whose monitor is still finishing up is not
		// running either.
		return fmt.Errorf("stop %s: %w", unit, ErrNotRunning)
	}
	if !monitored {
		return s.reapOrphans(dir, unit, st)
	}
	sig := unix.SIGTERM
	if o.Force {
		sig = unix.SIGUSR1
	}
	if err := signalProcess(st.MonitorPID, st.MonitorStart, sig); err != nil {
		return fmt.Errorf("stop %s: %w", unit, err)
	}
	for !waitGone(st.MonitorPID, st.MonitorStart, 100*time.Millisecond) {
		if ctx.Err() != nil {
			return fmt.Errorf("stop %s: %w", unit, ctx.Err())
		}
	}
	return nil
}

// reapOrphans stops a unit whose monitor is gone: it SIGKILLs the
// processes left in its cgroup, removes the cgroup and records the unit as
// failed ("monitor-lost").
func (s *Supervisor) reapOrphans(dir, unit string, st Status) error {
	g := &group{Dirs: st.CgroupDirs}
	if len(g.Dirs) == 0 {
		g.Dirs = []string{st.Cgroup}
	}
	if err := g.kill(); err != nil {
		return fmt.Errorf("stop %s: %w", unit, err)
	}
	for i := 0; i < 500 && !g.empty(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if err := g.remove(); err != nil {
		return fmt.Errorf("stop %s: %w", unit, err)
	}
	st.State, st.Result, st.MainPID, st.MainStart, st.Since = Failed, "monitor-lost", 0, 0, time.Now()
	return writeJSON(dir, statusFile, st)
}

// Kill sends sig to the unit's main process (whom "main") or to every
// process of its cgroup ("all", or ""), like systemd's KillUnit.
func (s *Supervisor) Kill(unit, whom string, sig unix.Signal) error {
	if err := validUnitName(unit); err != nil {
		return err
	}
	st, on, err := running(s.unitDir(unit))
	if err != nil || !on {
		return fmt.Errorf("kill %s: %w", unit, errors.Join(err, ErrNotRunning))
	}
	switch whom {
	case "main":
		return signalProcess(st.MainPID, st.MainStart, sig)
	case "", "all":
		return (&group{Dirs: []string{st.Cgroup}}).signal(sig)
	}
	return fmt.Errorf("kill %s: whom %q: %w", unit, whom, ErrBadUnit)
}

// Leader returns the PID of the unit's leader: the init of the outermost
// PID namespace inside its cgroup (the guest's PID 1).
func (s *Supervisor) Leader(unit string) (int, error) {
	st, on, err := running(s.unitDir(unit))
	if err != nil || !on {
		return 0, fmt.Errorf("leader of %s: %w", unit, errors.Join(err, ErrNotRunning))
	}
	pids, err := (&group{Dirs: []string{st.Cgroup}}).procs()
	if err != nil {
		return 0, fmt.Errorf("leader of %s: %w", unit, err)
	}
	best, depth := 0, 0
	for _, pid := range pids {
		if d := leaderDepth(pid); d > 0 && (depth == 0 || d < depth) {
			best, depth = pid, d
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("leader of %s: %w", unit, errNoLeader)
	}
	return best, nil
}

// PowerOff asks the guest to shut down: sig to its leader; if the unit is
// not down after timeout, Stop's escalation. Force stops at once. A unit
// without a leader (no PID namespace, or not yet created) is stopped like
// Stop does.
func (s *Supervisor) PowerOff(ctx context.Context, unit string, sig unix.Signal, timeout time.Duration, force bool) error {
	return s.transition(unit, func(dir string) error {
		if force {
			return s.stopLocked(ctx, dir, unit, StopOptions{Force: true})
		}
		st, on, monitored, err := supervised(dir)
		if err != nil || !on {
			return fmt.Errorf("power off %s: %w", unit, errors.Join(err, ErrNotRunning))
		}
		if !monitored { // orphaned: nobody would see it go down
			return s.reapOrphans(dir, unit, st)
		}
		leader, err := s.Leader(unit)
		if errors.Is(err, errNoLeader) {
			return s.stopLocked(ctx, dir, unit, StopOptions{})
		}
		if err != nil {
			return fmt.Errorf("power off %s: %w", unit, err)
		}
		_, start, err := procStat(leader)
		if err != nil {
			return fmt.Errorf("power off %s: %w", unit, err)
		}
		p, err := openProcess(leader, start)
		if err != nil {
			return fmt.Errorf("power off %s: %w", unit, err)
		}
		defer p.close()
		// The signal is repeated, as in the monitor's stop: an init that
		// has not set up its handlers yet drops it. Through the pidfd, a
		// repeat after the guest is gone reaches nobody else.
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			if err := p.signal(sig); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("power off %s: %w", unit, err)
			}
			if waitGone(st.MonitorPID, st.MonitorStart, min(resendInterval, time.Until(deadline))) {
				return nil
			}
		}
		return s.stopLocked(ctx, dir, unit, StopOptions{})
	})
}

// State returns the unit's status. A unit never started, or stopped, is
// Inactive (or Failed, with Result saying why). A unit whose monitor died
// has Result "monitor-lost": with its State if its processes still run
// (Stop kills them), else Failed.
func (s *Supervisor) State(unit string) (Status, error) {
	if err := validUnitName(unit); err != nil {
		return Status{}, err
	}
	st, on, monitored, err := supervised(s.unitDir(unit))
	if err != nil {
		return st, err
	}
	switch {
	case !monitored && on:
		st.Result = "monitor-lost" // still running, unsupervised
	case !on && st.State != Inactive && st.State != Failed:
		st.State, st.Result = Failed, "monitor-lost"
	}
	if st.Unit == "" {
		st.Unit = unit
	}
	return st, nil
}

// List returns the status of every unit the supervisor knows (running or
// run since boot), sorted by unit name.
func (s *Supervisor) List() ([]Status, error) {
	ents, err := os.ReadDir(s.runDir())
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	var out []Status
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		st, err := s.State(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Unit < out[j].Unit })
	return out, nil
}
