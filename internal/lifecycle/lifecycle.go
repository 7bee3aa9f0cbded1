package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/enable"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/stopsignal"
	"github.com/berth-dev/berth/internal/unitgen"
)

// Errors of this package (besides names.ErrInvalid for a bad machine name
// and images.ErrNotFound for a machine without an image).
var (
	// ErrRunning: the machine already runs.
	ErrRunning = errors.New("machine is already running")
	// ErrNotRunning: the machine does not run.
	ErrNotRunning = errors.New("machine is not running")
	// ErrNoReboot: the guest's init has no reboot signal.
	ErrNoReboot = errors.New("guest init cannot reboot on a signal")
)

// Backend runs machines' units. Backends report a running machine with
// an error wrapping ErrRunning and an idle one with ErrNotRunning (the
// adapters in this package translate).
type Backend interface {
	// Start starts the unit and returns once the machine runs.
	Start(ctx context.Context, u unitgen.Unit) error
	// Stop stops the machine's unit with its escalation; force kills at once.
	Stop(ctx context.Context, machine string, force bool) error
	// Kill signals the machine's main process ("main") or all its processes ("all").
	Kill(ctx context.Context, machine, whom string, sig unix.Signal) error
	// State returns "opening", "running", "closing" or "" (not running).
	State(ctx context.Context, machine string) (string, error)
	// Leader returns the guest's PID 1 as a host PID.
	Leader(ctx context.Context, machine string) (int, error)
	// Watch calls changed with a machine and its State each time its
	// unit's state changes, from one goroutine, until ctx ends.
	Watch(ctx context.Context, changed func(machine, state string)) error
}

// StartPreparer is a Backend that can do the part of a start that changes
// nothing (checking that the machine does not run) apart from the start
// itself, so that it overlaps other work (the caller's authorization, the
// unit's generation).
type StartPreparer interface {
	// PrepareStart checks that machine can start and returns the
	// function that starts it from its unit, as Start would.
	PrepareStart(ctx context.Context, machine string) (func(context.Context, unitgen.Unit) error, error)
}

// Manager runs the lifecycle of the machines of one host.
type Manager struct {
	p       paths.Paths
	backend Backend
	tmpl    string
	host    unitgen.Host
	env     []string
	images  *images.Manager
	// watcher is Watch's callback (nil before Watch).
	watcher atomic.Pointer[func(machine, state string)]
}

// Option configures a Manager.
type Option func(*Manager)

// WithTemplate sets the unit template's path (default: berth-nspawn@.service
// found on enable.UnitSearchPath below the paths' root).
func WithTemplate(path string) Option { return func(m *Manager) { m.tmpl = path } }

// WithHost sets the values of the host specifiers of the template.
func WithHost(h unitgen.Host) Option { return func(m *Manager) { m.host = h } }

// WithEnvironment adds KEY=value assignments to every machine unit's
// environment, before the machine's own (berthd --root: RootEnv and its
// bus address, so berth-nspawn finds the images below the root and
// registers with that berthd).
func WithEnvironment(env ...string) Option { return func(m *Manager) { m.env = env } }

// RootEnv is the environment variable that places berth-nspawn's host
// paths below a directory (see berth-nspawn --help).
const RootEnv = "BERTH_ROOT"

// New returns a Manager over backend.
func New(p paths.Paths, backend Backend, opts ...Option) *Manager {
	m := &Manager{p: p, backend: backend, images: images.New(p)}
	for _, o := range opts {
		o(m)
	}
	return m
}

// template reads the unit template.
func (m *Manager) template() ([]byte, error) {
	if m.tmpl != "" {
		return os.ReadFile(m.tmpl)
	}
	for _, dir := range enable.UnitSearchPath {
		b, err := os.ReadFile(filepath.Join(m.p.Root, dir, unitgen.Template))
		if err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%s: %w", unitgen.Template, enable.ErrNotInstalled)
}

// signals returns the guest's power-off and reboot signals: detected from
// its image's init, overridden by its settings. A raw image, whose init
// cannot be read without mounting it, counts as systemd, as nspawn
// assumes.
func (m *Manager) signals(img images.Image, s Settings) stopsignal.Signals {
	sig, err := stopsignal.Detect(img.Path)
	if err != nil {
		sig = stopsignal.For(stopsignal.Systemd)
	}
	return sig.Override(s.PowerOffSignal, s.RebootSignal)
}

// StartMachine starts machine from its image with its saved settings and
// returns once it runs.
func (m *Manager) StartMachine(ctx context.Context, machine string) error {
	start, err := m.PrepareStart(ctx, machine)
	if err != nil {
		return err
	}
	return start(ctx)
}

// PrepareStart does the part of StartMachine that changes nothing: it
// finds the image, reads the settings, generates the unit and, with a
// StartPreparer backend, checks meanwhile that the machine does not run
// (the unit's errors come first). The returned function starts the
// machine, as StartMachine does.
func (m *Manager) PrepareStart(ctx context.Context, machine string) (func(context.Context) error, error) {
	p, ok := m.backend.(StartPreparer)
	if !ok {
		u, err := m.unit(machine)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", machine, err)
		}
		return func(ctx context.Context) error { return m.backend.Start(ctx, u) }, nil
	}
	type prepared struct {
		start func(context.Context, unitgen.Unit) error
		err   error
	}
	checked := make(chan prepared, 1)
	go func() {
		start, err := p.PrepareStart(ctx, machine)
		checked <- prepared{start, err}
	}()
	u, err := m.unit(machine)
	c := <-checked
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", machine, err)
	}
	if c.err != nil {
		return nil, c.err
	}
	return func(ctx context.Context) error { return c.start(ctx, u) }, nil
}

// unit generates machine's unit from the template and its settings.
func (m *Manager) unit(machine string) (unitgen.Unit, error) {
	if err := names.ValidMachine(machine); err != nil {
		return unitgen.Unit{}, err
	}
	img, err := m.images.Find(machine)
	if err != nil {
		return unitgen.Unit{}, err
	}
	s, err := m.Settings(machine)
	if err != nil {
		return unitgen.Unit{}, err
	}
	tmpl, err := m.template()
	if err != nil {
		return unitgen.Unit{}, err
	}
	us := s.unitSettings(machine, m.signals(img, s).PowerOff, m.host)
	us.Environment = append(slices.Clip(m.env), us.Environment...)
	u, err := unitgen.Generate(tmpl, us)
	if err != nil {
		return unitgen.Unit{}, err
	}
	return fitImage(u, img, func(p string) (string, bool) { return mountPointOf(systemdRoot, p) }), nil
}

// PowerOff shuts the guest down with its own power-off signal and waits
// until it is down: up to the stop timeout, then the unit's escalation.
// force skips the guest: SIGKILL of the whole machine at once.
func (m *Manager) PowerOff(ctx context.Context, machine string, force bool) error {
	if err := names.ValidMachine(machine); err != nil {
		return fmt.Errorf("power off %s: %w", machine, err)
	}
	if force {
		return m.backend.Stop(ctx, machine, true)
	}
	s, sig, err := m.guest(machine)
	if err != nil {
		return fmt.Errorf("power off %s: %w", machine, err)
	}
	leader, err := m.backend.Leader(ctx, machine)
	if err != nil {
		return m.backend.Stop(ctx, machine, false) // no guest init yet: stop the unit
	}
	guest, err := unix.PidfdOpen(leader, 0)
	if err != nil {
		return fmt.Errorf("power off %s: %w", machine, err)
	}
	defer unix.Close(guest)
	// Repeats go through the pidfd: once the guest is gone they reach
	// nobody, not a process that reuses its PID.
	send := func() { _ = unix.PidfdSendSignal(guest, sig.PowerOff, nil, 0) }
	if w := m.watcher.Load(); w != nil {
		(*w)(machine, "closing") // the unit stays active until the guest is down
	}
	if m.waitDown(ctx, machine, s.timeoutStop(), send) {
		return nil
	}
	err = m.backend.Stop(ctx, machine, false)
	if errors.Is(err, ErrNotRunning) { // went down meanwhile
		return nil
	}
	return err
}

// Reboot asks the guest to reboot with its own reboot signal; the unit
// restarts it when berth-nspawn exits with status 133.
func (m *Manager) Reboot(ctx context.Context, machine string) error {
	if err := names.ValidMachine(machine); err != nil {
		return fmt.Errorf("reboot %s: %w", machine, err)
	}
	_, sig, err := m.guest(machine)
	if err != nil {
		return fmt.Errorf("reboot %s: %w", machine, err)
	}
	if sig.Reboot == 0 {
		return fmt.Errorf("reboot %s: %s: %w", machine, sig.Init, ErrNoReboot)
	}
	leader, err := m.backend.Leader(ctx, machine)
	if err != nil {
		return fmt.Errorf("reboot %s: %w", machine, err)
	}
	return unix.Kill(leader, sig.Reboot)
}

// Terminate stops the machine's unit (KillSignal to berth-nspawn, which
// forwards the guest's power-off signal; SIGKILL after the stop timeout).
func (m *Manager) Terminate(ctx context.Context, machine string) error {
	if err := names.ValidMachine(machine); err != nil {
		return fmt.Errorf("terminate %s: %w", machine, err)
	}
	return m.backend.Stop(ctx, machine, false)
}

// State returns the machine's state: "opening", "running", "closing" or
// "" when it does not run.
func (m *Manager) State(ctx context.Context, machine string) (string, error) {
	if err := names.ValidMachine(machine); err != nil {
		return "", err
	}
	return m.backend.State(ctx, machine)
}

// Watch calls changed with a machine and its State ("opening",
// "running", "closing", "" once it no longer runs) each time it changes:
// when its unit's state changes, and (closing) when PowerOff asks its
// guest to shut down, which its unit does not see. Call it once.
func (m *Manager) Watch(ctx context.Context, changed func(machine, state string)) error {
	m.watcher.Store(&changed)
	return m.backend.Watch(ctx, changed)
}

// guest returns the machine's settings and signals.
func (m *Manager) guest(machine string) (Settings, stopsignal.Signals, error) {
	s, err := m.Settings(machine)
	if err != nil {
		return s, stopsignal.Signals{}, err
	}
	img, err := m.images.Find(machine)
	if err != nil {
		return s, stopsignal.For(stopsignal.Systemd).Override(s.PowerOffSignal, s.RebootSignal), nil
	}
	return s, m.signals(img, s), nil
}

// resendInterval is how often PowerOff repeats the guest's signal: an
// init drops signals from outside its PID namespace until it has set up
// its handlers, and a repeated shutdown request is the same request.
const resendInterval = time.Second

// waitDown calls send, then polls until the machine no longer runs, up
// to timeout, calling send again every resendInterval; it reports whether
// the machine went down.
func (m *Manager) waitDown(ctx context.Context, machine string, timeout time.Duration, send func()) bool {
	deadline := time.Now().Add(timeout)
	next := time.Now()
	for {
		if time.Now().After(next) {
			send()
			next = time.Now().Add(resendInterval)
		}
		st, err := m.backend.State(ctx, machine)
		if err == nil && st == "" {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Enable makes machine start at boot, with its settings in the boot
// unit's drop-in; now also starts it (a running machine is fine).
func (m *Manager) Enable(ctx context.Context, machine string, now bool) ([]enable.Change, error) {
	s, err := m.Settings(machine)
	if err != nil {
		return nil, fmt.Errorf("enable %s: %w", machine, err)
	}
	dropIn, err := unitgen.DropIn(s.unitSettings(machine, 0, m.host))
	if err != nil {
		return nil, fmt.Errorf("enable %s: %w", machine, err)
	}
	changes, err := enable.Enable(m.p, machine, dropIn)
	if err != nil || !now {
		return changes, err
	}
	if err := m.StartMachine(ctx, machine); err != nil && !errors.Is(err, ErrRunning) {
		return changes, err
	}
	return changes, nil
}

// Disable stops machine from starting at boot; now also powers it off (a
// machine that does not run is fine).
func (m *Manager) Disable(ctx context.Context, machine string, now bool) ([]enable.Change, error) {
	changes, err := enable.Disable(m.p, machine)
	if err != nil || !now {
		return changes, err
	}
	if err := m.PowerOff(ctx, machine, false); err != nil && !errors.Is(err, ErrNotRunning) {
		return changes, err
	}
	return changes, nil
}

// StartEnabled starts every enabled machine that does not run yet, as
// the embedded backend must when berthd starts (with systemd, systemd
// does it at boot). It returns the errors of the machines that failed.
func (m *Manager) StartEnabled(ctx context.Context) error {
	ms, err := enable.Enabled(m.p)
	if err != nil {
		return err
	}
	var errs []error
	for _, machine := range ms {
		if err := m.StartMachine(ctx, machine); err != nil && !errors.Is(err, ErrRunning) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
