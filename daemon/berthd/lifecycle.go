package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/lifecycle"
	"github.com/berth-dev/berth/internal/machine"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/supervisor"
	"github.com/berth-dev/berth/internal/sysdbackend"
	"github.com/berth-dev/berth/internal/unitgen"
)

// BackendEnv chooses the lifecycle backend: "auto" (the default:
// systemd when the host under --root was booted with systemd, else
// embedded), "embedded" or "systemd".
const BackendEnv = "BERTH_BACKEND"

// Backend names.
const (
	backendAuto     = "auto"
	backendEmbedded = "embedded"
	backendSystemd  = "systemd"
)

// chooseBackend resolves a backend name ("" is auto).
func chooseBackend(name string, p paths.Paths) (string, error) {
	switch name {
	case backendEmbedded, backendSystemd:
		return name, nil
	case backendAuto, "":
		if sysdbackend.Booted(p.Root) {
			return backendSystemd, nil
		}
		return backendEmbedded, nil
	}
	return "", fmt.Errorf("%s=%q: want auto, embedded or systemd", BackendEnv, name)
}

// lifecycleService is the machine lifecycle berthd serves.
type lifecycleService struct {
	m       *lifecycle.Manager
	reg     *machine.Registry
	backend string
	close   func()
}

// setupLifecycle creates the lifecycle manager over the backend chosen by
// $BERTH_BACKEND.
func setupLifecycle(logger *log.Logger, p paths.Paths, reg *machine.Registry) (*lifecycleService, error) {
	backend, err := chooseBackend(os.Getenv(BackendEnv), p)
	if err != nil {
		return nil, err
	}
	logger.Printf("lifecycle backend: %s", backend)
	env := lifecycle.WithEnvironment(unitEnvironment(p, os.Getenv)...)
	if backend == backendEmbedded {
		sup, err := supervisor.New(p)
		if err != nil {
			return nil, err
		}
		return &lifecycleService{m: lifecycle.New(p, lifecycle.Embedded{S: sup}, env), reg: reg, backend: backend, close: sup.Close}, nil
	}
	b, err := sysdbackend.New(context.Background())
	if err != nil {
		return nil, err
	}
	leaderOf := func(name string) (int, error) {
		m, err := reg.Get(name)
		if err != nil {
			return 0, fmt.Errorf("leader of %s: %w", name, lifecycle.ErrNotRunning)
		}
		return int(m.Leader), nil
	}
	return &lifecycleService{m: lifecycle.New(p, lifecycle.Systemd{B: b, LeaderOf: leaderOf}, env), reg: reg, backend: backend, close: b.Close}, nil
}

// unitEnvironment is what berthd adds to every machine unit's
// environment: with --root, the root for berth-nspawn (so -M finds the
// images in the root's pools); with DBUS_SYSTEM_BUS_ADDRESS, that bus (so
// the machine registers with this berthd).
func unitEnvironment(p paths.Paths, getenv func(string) string) []string {
	var env []string
	if p.Root != "/" {
		env = append(env, lifecycle.RootEnv+"="+p.Root)
	}
	if bus := getenv("DBUS_SYSTEM_BUS_ADDRESS"); bus != "" {
		env = append(env, "DBUS_SYSTEM_BUS_ADDRESS="+bus)
	}
	return env
}

// start makes f follow the machines' units and starts the enabled
// machines in the background, as the embedded backend must when berthd
// starts (with systemd, systemd does it at boot). Call it once berthd
// serves the bus: the machines register with it while they start.
func (l *lifecycleService) start(logger *log.Logger, f *unitFollower) error {
	if err := f.follow(context.Background(), l.reg, l.m); err != nil {
		return err
	}
	if l.backend != backendEmbedded {
		return nil
	}
	go func() {
		if err := l.m.StartEnabled(context.Background()); err != nil {
			logger.Printf("starting enabled machines: %v", err)
		}
	}()
	return nil
}

// unitFollower makes each registered machine's State follow its unit: it
// sits between the registry and the bus signals as the registry's
// Observer, gives a machine that registers while its unit still starts
// the State opening before it is announced, and sets the State (with
// PropertiesChanged) at every later change of the unit.
type unitFollower struct {
	next machine.Observer
	// reg and lc are set once by follow; before, machines pass unchanged.
	ready atomic.Pointer[followTargets]
	// mu orders a registration's first State against the unit's changes:
	// the newer unit state always wins, and a machine's MachineNew comes
	// before its StateChanged.
	mu sync.Mutex
	// units holds the State of every running machine unit seen change
	// since follow; guarded by mu. A machine registers while its unit
	// starts, after the unit's change to opening: its first State is
	// known without asking the backend while berth-nspawn waits for the
	// registration's reply.
	units map[string]string
	// changes counts the unit changes seen; guarded by mu.
	changes uint64
	// changed is broadcast at every unit change; its L is &mu.
	changed sync.Cond
}

type followTargets struct {
	reg *machine.Registry
	lc  *lifecycle.Manager
}

// follow starts following the units of lc's machines in reg.
func (f *unitFollower) follow(ctx context.Context, reg *machine.Registry, lc *lifecycle.Manager) error {
	f.ready.Store(&followTargets{reg: reg, lc: lc})
	return lc.Watch(ctx, f.unitChanged)
}

// MachineNew implements machine.Observer. Only a machine that runs in its
// own berth unit has a unit State to take: asking the backend for every
// other registration would cost a round trip to systemd each.
func (f *unitFollower) MachineNew(m machine.Machine) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name, ours := unitgen.MachineOf(m.Unit); !ours || name != m.Name {
		f.next.MachineNew(m)
		return
	}
	if t := f.ready.Load(); t != nil {
		st, known := f.units[m.Name]
		if !known { // a unit that started before berthd did
			st, _ = t.lc.State(context.Background(), m.Name)
		}
		if st != "" {
			if got, _, err := t.reg.SetState(m.Name, machine.State(st)); err == nil {
				m = got
			}
		}
	}
	f.next.MachineNew(m)
}

// MachineRemoved implements machine.Observer.
func (f *unitFollower) MachineRemoved(m machine.Machine) { f.next.MachineRemoved(m) }

// StateChanged implements machine.Observer.
func (f *unitFollower) StateChanged(m machine.Machine) { f.next.StateChanged(m) }

// unitChanged records the State of a machine's unit and sets the
// machine's State to it, if it is registered.
func (f *unitFollower) unitChanged(name, state string) {
	t := f.ready.Load()
	if t == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes++
	f.changed.Broadcast()
	if state == "" {
		delete(f.units, name)
		return // a stopped unit's machine goes away with its leader
	}
	if f.units == nil {
		f.units = map[string]string{}
	}
	f.units[name] = state
	if m, changed, err := t.reg.SetState(name, machine.State(state)); err == nil && changed {
		f.next.StateChanged(m)
	}
}

// settleTimeout bounds how long a StartMachine reply waits for the unit
// change that sets the machine's State to running (see settle).
const settleTimeout = 5 * time.Second

// settle returns once f has seen name's unit running, or seen it gone,
// or ctx ends. The backend and f learn of a unit's changes each on its
// own: without it, a StartMachine reply could come before the machine's
// State became running.
func (f *unitFollower) settle(ctx context.Context, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changed.L == nil {
		f.changed.L = &f.mu
	}
	stop := context.AfterFunc(ctx, func() {
		f.mu.Lock()
		f.changed.Broadcast()
		f.mu.Unlock()
	})
	defer stop()
	start := f.changes
	for ctx.Err() == nil {
		st, known := f.units[name]
		if st == string(machine.StateRunning) || (!known && f.changes != start) {
			return
		}
		f.changed.Wait()
	}
}

// settledLifecycle is the lifecycle berthd serves: StartMachine replies
// once the started machine's State is running.
type settledLifecycle struct {
	*lifecycle.Manager
	f *unitFollower
}

// PrepareStart is lifecycle.Manager's, with a start that waits for the
// machine's State to follow.
func (l settledLifecycle) PrepareStart(ctx context.Context, name string) (func(context.Context) error, error) {
	start, err := l.Manager.PrepareStart(ctx, name)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if err := start(ctx); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, settleTimeout)
		defer cancel()
		l.f.settle(ctx, name)
		return nil
	}, nil
}
