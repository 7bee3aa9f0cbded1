package sysdbackend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/unitgen"
)

// Errors of this package.
var (
	// ErrRunning: the machine already runs (under either unit name).
	ErrRunning = errors.New("machine is already running")
	// ErrNotRunning: the machine does not run.
	ErrNotRunning = errors.New("machine is not running")
	// ErrJob: a systemd job did not finish with "done".
	ErrJob = errors.New("systemd job failed")
)

// Booted reports whether the host under root runs systemd as its init,
// as sd_booted does: /run/systemd/system exists.
func Booted(root string) bool {
	fi, err := os.Lstat(filepath.Join(root, "run/systemd/system"))
	return err == nil && fi.IsDir()
}

// Backend runs machine units as systemd transient units. Every method may
// run concurrently.
type Backend struct {
	conn *sdbus.Conn
	mu   sync.Mutex
	// watch is Watch's bus connection, nil before Watch; guarded by mu.
	watch *dbus.Conn
	// starts holds, per machine, the channels of the starts waiting for
	// it to run, which Watch closes when it sees it run; guarded by mu.
	starts map[string][]chan struct{}
}

// New connects to systemd on the system bus (DBUS_SYSTEM_BUS_ADDRESS
// overrides the address): go-systemd's two connections, for calls and
// for job signals, are dialSystemBus's. The connections close when ctx
// ends.
func New(ctx context.Context) (*Backend, error) {
	conn, err := sdbus.NewConnection(func() (*dbus.Conn, error) { return dialSystemBus(nil, dbus.WithContext(ctx)) })
	if err != nil {
		return nil, fmt.Errorf("connect to systemd: %w", err)
	}
	return &Backend{conn: conn}, nil
}

// Close closes the bus connections.
func (b *Backend) Close() {
	b.conn.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.watch != nil {
		b.watch.Close()
	}
}

// wait waits for a job's result, or for running to close: a unit that
// runs has ended its start job well.
func wait(ctx context.Context, op string, ch <-chan string, running <-chan struct{}) error {
	select {
	case r := <-ch:
		if r != "done" {
			return fmt.Errorf("%s: %w: %s", op, ErrJob, r)
		}
		return nil
	case <-running:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
}

// awaitRunning returns a channel that Watch closes when it sees machine
// run, and the function that stops waiting for it.
func (b *Backend) awaitRunning(machine string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.starts == nil {
		b.starts = map[string][]chan struct{}{}
	}
	b.starts[machine] = append(b.starts[machine], ch)
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if waiting := slices.DeleteFunc(b.starts[machine], func(c chan struct{}) bool { return c == ch }); len(waiting) > 0 {
			b.starts[machine] = waiting
		} else {
			delete(b.starts, machine)
		}
	}
}

// running tells the starts waiting for machine that it runs.
func (b *Backend) running(machine string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.starts[machine] {
		close(ch)
	}
	delete(b.starts, machine)
}

// Start starts u as a transient unit and waits for its job: for the
// Type=notify template, until berth-nspawn reported READY=1. With Watch
// running, it returns as soon as either the job's end or the unit's change
// to active reaches berthd: each comes on a connection of its own, and
// the two are one event in systemd.
func (b *Backend) Start(ctx context.Context, u unitgen.Unit) error {
	start, err := b.PrepareStart(ctx, u.Machine)
	if err != nil {
		return err
	}
	return start(ctx, u)
}

// PrepareStart does the part of Start that changes nothing: it checks
// that the machine runs in neither of its units. The returned function
// starts the machine's unit u and waits for its job, as Start does.
func (b *Backend) PrepareStart(ctx context.Context, machine string) (func(context.Context, unitgen.Unit) error, error) {
	if unit, _, err := b.Active(ctx, machine); err != nil {
		return nil, err
	} else if unit != "" {
		return nil, fmt.Errorf("start %s: %w in %s", machine, ErrRunning, unit)
	}
	return func(ctx context.Context, u unitgen.Unit) error {
		running, stop := b.awaitRunning(u.Machine)
		defer stop()
		ch := make(chan string, 1)
		if _, err := b.conn.StartTransientUnitContext(ctx, u.Name, "fail", Properties(u), ch); err != nil {
			return fmt.Errorf("start %s: %w", u.Name, err)
		}
		return wait(ctx, "start "+u.Name, ch, running)
	}, nil
}

// Stop stops the machine's unit and waits for the job; force first
// SIGKILLs every process of the unit.
func (b *Backend) Stop(ctx context.Context, machine string, force bool) error {
	unit, _, err := b.Active(ctx, machine)
	if err != nil {
		return err
	}
	if unit == "" {
		return fmt.Errorf("stop %s: %w", machine, ErrNotRunning)
	}
	if force {
		if err := b.conn.KillUnitWithTarget(ctx, unit, sdbus.All, int32(unix.SIGKILL)); err != nil {
			return fmt.Errorf("stop %s: %w", unit, err)
		}
	}
	ch := make(chan string, 1)
	if _, err := b.conn.StopUnitContext(ctx, unit, "replace", ch); err != nil {
		if noSuchUnit(err) && force {
			return nil // killed, ended, and collected before the stop job
		}
		if noSuchUnit(err) {
			return fmt.Errorf("stop %s: %w", machine, ErrNotRunning)
		}
		return fmt.Errorf("stop %s: %w", unit, err)
	}
	return wait(ctx, "stop "+unit, ch, nil)
}

// noSuchUnit reports whether err is systemd's NoSuchUnit: a transient
// unit that ended is gone at once.
func noSuchUnit(err error) bool {
	var de dbus.Error
	return errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.NoSuchUnit"
}

// Kill sends sig to the main process (whom "main") or every process
// ("all") of the machine's unit.
func (b *Backend) Kill(ctx context.Context, machine, whom string, sig unix.Signal) error {
	unit, _, err := b.Active(ctx, machine)
	if err != nil {
		return err
	}
	if unit == "" {
		return fmt.Errorf("kill %s: %w", machine, ErrNotRunning)
	}
	w := sdbus.All
	if whom == "main" {
		w = sdbus.Main
	}
	return b.conn.KillUnitWithTarget(ctx, unit, w, int32(sig))
}

// Active returns the unit the machine runs in and its machine State
// ("opening", "running", "closing"), or "" and "" when it runs in
// neither of its units. It asks for the loaded units of both names in one
// call (ListUnitsByPatterns; a machine name has no pattern characters):
// unlike a property read, that does not make systemd load a unit that is
// not loaded, with the dependencies of its template and a burst of
// signals, only to find it inactive.
func (b *Backend) Active(ctx context.Context, machine string) (string, string, error) {
	units, err := unitgen.Names(machine)
	if err != nil {
		return "", "", err
	}
	loaded, err := b.conn.ListUnitsByPatternsContext(ctx, nil, units)
	if err != nil {
		return "", "", fmt.Errorf("state of %s: %w", machine, err)
	}
	for _, unit := range units { // transient first
		for _, l := range loaded {
			if st := MachineState(l.ActiveState); l.Name == unit && st != "" {
				return unit, st, nil
			}
		}
	}
	return "", "", nil
}

// MachineState maps a unit's ActiveState to a machine State.
func MachineState(activeState string) string {
	switch activeState {
	case "activating", "reloading":
		return "opening"
	case "active":
		return "running"
	case "deactivating":
		return "closing"
	}
	return ""
}

// State returns the machine's State: "opening", "running", "closing", or
// "" when it does not run.
func (b *Backend) State(ctx context.Context, machine string) (string, error) {
	_, st, err := b.Active(ctx, machine)
	return st, err
}
