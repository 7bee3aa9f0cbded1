package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/supervisor"
	"github.com/berth-dev/berth/internal/unitgen"
)

// Embedded adapts the embedded supervisor to Backend.
type Embedded struct {
	// S is the supervisor.
	S *supervisor.Supervisor
}

func translate(err error) error {
	switch {
	case errors.Is(err, supervisor.ErrRunning):
		return fmt.Errorf("%w: %w", ErrRunning, err)
	case errors.Is(err, supervisor.ErrNotRunning):
		return fmt.Errorf("%w: %w", ErrNotRunning, err)
	}
	return err
}

// Start implements Backend.
func (e Embedded) Start(ctx context.Context, u unitgen.Unit) error {
	return translate(e.S.Start(ctx, u))
}

// Stop implements Backend.
func (e Embedded) Stop(ctx context.Context, machine string, force bool) error {
	unit, err := unitgen.UnitName(machine)
	if err != nil {
		return err
	}
	return translate(e.S.Stop(ctx, unit, supervisor.StopOptions{Force: force}))
}

// Kill implements Backend.
func (e Embedded) Kill(_ context.Context, machine, whom string, sig unix.Signal) error {
	unit, err := unitgen.UnitName(machine)
	if err != nil {
		return err
	}
	return translate(e.S.Kill(unit, whom, sig))
}

// State implements Backend.
func (e Embedded) State(_ context.Context, machine string) (string, error) {
	unit, err := unitgen.UnitName(machine)
	if err != nil {
		return "", err
	}
	st, err := e.S.State(unit)
	return st.State.MachineState(), err
}

// Leader implements Backend.
func (e Embedded) Leader(_ context.Context, machine string) (int, error) {
	unit, err := unitgen.UnitName(machine)
	if err != nil {
		return 0, err
	}
	pid, err := e.S.Leader(unit)
	return pid, translate(err)
}

// Watch implements Backend.
func (e Embedded) Watch(ctx context.Context, changed func(machine, state string)) error {
	return e.S.Watch(ctx, func(st supervisor.Status) {
		if machine, ok := unitgen.MachineOf(st.Unit); ok {
			changed(machine, st.State.MachineState())
		}
	})
}
