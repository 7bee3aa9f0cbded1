package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/sysdbackend"
	"github.com/berth-dev/berth/internal/unitgen"
)

// Systemd adapts the systemd backend to Backend. systemd does not know a
// unit's leader; LeaderOf supplies it (berthd: from the machine's
// registration by berth-nspawn).
type Systemd struct {
	// B is the systemd backend.
	B *sysdbackend.Backend
	// LeaderOf returns a running machine's leader PID.
	LeaderOf func(machine string) (int, error)
}

func translateSystemd(err error) error {
	switch {
	case errors.Is(err, sysdbackend.ErrRunning):
		return fmt.Errorf("%w: %w", ErrRunning, err)
	case errors.Is(err, sysdbackend.ErrNotRunning):
		return fmt.Errorf("%w: %w", ErrNotRunning, err)
	}
	return err
}

// Start implements Backend.
func (s Systemd) Start(ctx context.Context, u unitgen.Unit) error {
	return translateSystemd(s.B.Start(ctx, u))
}

// PrepareStart implements StartPreparer: it checks that the machine
// runs in neither of its units.
func (s Systemd) PrepareStart(ctx context.Context, machine string) (func(context.Context, unitgen.Unit) error, error) {
	start, err := s.B.PrepareStart(ctx, machine)
	if err != nil {
		return nil, translateSystemd(err)
	}
	return func(ctx context.Context, u unitgen.Unit) error { return translateSystemd(start(ctx, u)) }, nil
}

// Stop implements Backend.
func (s Systemd) Stop(ctx context.Context, machine string, force bool) error {
	return translateSystemd(s.B.Stop(ctx, machine, force))
}

// Kill implements Backend.
func (s Systemd) Kill(ctx context.Context, machine, whom string, sig unix.Signal) error {
	return translateSystemd(s.B.Kill(ctx, machine, whom, sig))
}

// State implements Backend.
func (s Systemd) State(ctx context.Context, machine string) (string, error) {
	return s.B.State(ctx, machine)
}

// Leader implements Backend.
func (s Systemd) Leader(_ context.Context, machine string) (int, error) {
	if s.LeaderOf == nil {
		return 0, fmt.Errorf("leader of %s: %w", machine, ErrNotRunning)
	}
	return s.LeaderOf(machine)
}

// Watch implements Backend.
func (s Systemd) Watch(ctx context.Context, changed func(machine, state string)) error {
	return s.B.Watch(ctx, changed)
}
