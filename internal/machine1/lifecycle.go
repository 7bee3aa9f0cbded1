package machine1

import (
	"context"
	"fmt"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/enable"
	"github.com/berth-dev/berth/internal/lifecycle"
	"github.com/berth-dev/berth/internal/machine"
	"github.com/berth-dev/berth/internal/names"
)

// Lifecycle is what the adapter needs to start, stop and enable machines
// through units; *lifecycle.Manager implements it. nil makes every
// lifecycle method of dev.berth.Manager1 NotSupported.
type Lifecycle interface {
	// PrepareStart does the part of a start that changes nothing (the
	// image, settings and unit, and whether the machine runs) and
	// returns the function that starts the machine.
	PrepareStart(ctx context.Context, machine string) (func(context.Context) error, error)
	PowerOff(ctx context.Context, machine string, force bool) error
	Reboot(ctx context.Context, machine string) error
	State(ctx context.Context, machine string) (string, error)
	Enable(ctx context.Context, machine string, now bool) ([]enable.Change, error)
	Disable(ctx context.Context, machine string, now bool) ([]enable.Change, error)
	Settings(machine string) (lifecycle.Settings, error)
	SetSettings(machine string, s lifecycle.Settings) error
}

// changeRow is one EnableMachine/DisableMachine entry: a(sss), as
// systemd's EnableUnitFiles reports changes (type, file, destination).
type changeRow struct {
	Type, Path, Target string
}

// merge joins the method sets of one interface that live in separate files.
func merge(parts ...iface) iface {
	out := iface{}
	for _, p := range parts {
		for name, m := range p {
			out[name] = m
		}
	}
	return out
}

// lifecycleMethods are dev.berth.Manager1's lifecycle methods.
func (s *Server) lifecycleMethods() iface {
	return iface{
		"StartMachine":       newMethod(s.startMachine),
		"PowerOffMachine":    newMethod(s.powerOffMachine),
		"RebootMachine":      newMethod(s.rebootMachine),
		"EnableMachine":      newMethod(s.enableMachine),
		"DisableMachine":     newMethod(s.disableMachine),
		"GetMachineSettings": newMethod(s.getMachineSettings),
		"SetMachineSettings": newMethod(s.setMachineSettings),
	}
}

// lifecycle returns the lifecycle after checking that the caller is root:
// every lifecycle method is root-only, and fails closed.
func (s *Server) lifecycle(msg dbus.Message, what string) (Lifecycle, error) {
	if err := s.requireRoot(msg, what); err != nil {
		return nil, err
	}
	if s.opts.Lifecycle == nil {
		return nil, fmt.Errorf("%s: %w", what, errNotSupported)
	}
	return s.opts.Lifecycle, nil
}

func (s *Server) startMachine(msg dbus.Message, name string) *dbus.Error {
	ctx := context.Background()
	// The caller's authorization (a round trip to the bus daemon) and the
	// preparation overlap: the preparation changes nothing, its errors are
	// told only to an authorized caller, and nothing starts before the
	// caller is authorized.
	auth := make(chan error, 1)
	go func() { _, err := s.lifecycle(msg, "start machine"); auth <- err }()
	var start func(context.Context) error
	var err error
	if s.opts.Lifecycle != nil {
		start, err = s.opts.Lifecycle.PrepareStart(ctx, name)
	}
	if authErr := <-auth; authErr != nil {
		return busError(authErr)
	}
	return busError(s.startIfUnregistered(name, func() error {
		if err != nil {
			return err
		}
		return start(ctx)
	}))
}

// startIfUnregistered calls start unless machine name is registered: a
// registered machine runs, also one started without a unit (berth-nspawn
// or systemd-nspawn run by hand), and a second could not register.
func (s *Server) startIfUnregistered(name string, start func() error) error {
	if m, err := s.opts.Machines.Get(name); err == nil && names.ValidMachine(name) == nil {
		return fmt.Errorf("start %s: already registered (service %q): %w", name, m.Service, machine.ErrExists)
	}
	return start()
}

func (s *Server) powerOffMachine(msg dbus.Message, name string, force bool) *dbus.Error {
	lc, err := s.lifecycle(msg, "power off machine")
	if err != nil {
		return busError(err)
	}
	// Stopping a unit that does not run succeeds; powering off a machine
	// that does not run is NoSuchMachine, as in machined.
	if st, err := lc.State(context.Background(), name); err != nil || st == "" {
		if err == nil {
			err = fmt.Errorf("power off %s: %w", name, lifecycle.ErrNotRunning)
		}
		return busError(err)
	}
	return busError(lc.PowerOff(context.Background(), name, force))
}

func (s *Server) rebootMachine(msg dbus.Message, name string) *dbus.Error {
	lc, err := s.lifecycle(msg, "reboot machine")
	if err != nil {
		return busError(err)
	}
	return busError(lc.Reboot(context.Background(), name))
}

func (s *Server) enableMachine(msg dbus.Message, name string, now bool) ([]changeRow, *dbus.Error) {
	lc, err := s.lifecycle(msg, "enable machine")
	if err != nil {
		return nil, busError(err)
	}
	changes, err := lc.Enable(context.Background(), name, now)
	return changeRows(changes), busError(err)
}

func (s *Server) disableMachine(msg dbus.Message, name string, now bool) ([]changeRow, *dbus.Error) {
	lc, err := s.lifecycle(msg, "disable machine")
	if err != nil {
		return nil, busError(err)
	}
	changes, err := lc.Disable(context.Background(), name, now)
	return changeRows(changes), busError(err)
}

func changeRows(changes []enable.Change) []changeRow {
	out := make([]changeRow, len(changes))
	for i, c := range changes {
		out[i] = changeRow(c)
	}
	return out
}

func (s *Server) getMachineSettings(msg dbus.Message, name string) (map[string]dbus.Variant, *dbus.Error) {
	lc, err := s.lifecycle(msg, "get machine settings")
	if err != nil {
		return nil, busError(err)
	}
	st, err := lc.Settings(name)
	if err != nil {
		return nil, busError(err)
	}
	return settingsToBus(st), nil
}

func (s *Server) setMachineSettings(msg dbus.Message, name string, changes map[string]dbus.Variant) *dbus.Error {
	lc, err := s.lifecycle(msg, "set machine settings")
	if err != nil {
		return busError(err)
	}
	st, err := lc.Settings(name)
	if err != nil {
		return busError(err)
	}
	if st, err = applySettings(st, changes); err != nil {
		return busError(fmt.Errorf("set settings of %s: %w", name, err))
	}
	return busError(lc.SetSettings(name, st))
}
