package supervisor

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/berth-dev/berth/internal/paths"
)

// Errors of this package.
var (
	// ErrRunning: the unit is already running (or in a transition).
	ErrRunning = errors.New("unit is already running")
	// ErrNotRunning: the unit is not running.
	ErrNotRunning = errors.New("unit is not running")
	// ErrStartFailed: the unit was started but did not come up.
	ErrStartFailed = errors.New("unit failed to start")
	// ErrBadUnit: the unit cannot be supervised as given.
	ErrBadUnit = errors.New("unit cannot be supervised")
	// ErrNoCgroups: no usable cgroup hierarchy is mounted.
	ErrNoCgroups = errors.New("no cgroup hierarchy")
)

// The internal subcommands of the re-exec entry points.
const (
	monitorCmd = "__berth-supervisor-monitor"
	execCmd    = "__berth-supervisor-exec"
)

// Main runs the supervisor's re-exec entry points and exits when the
// process was started as one; otherwise it returns at once. Every program
// that creates a Supervisor (berthd, and test binaries in TestMain) must
// call it first thing in main, before flags are parsed.
func Main() {
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case monitorCmd:
		os.Exit(runMonitor(os.Args[2:]))
	case execCmd:
		os.Exit(runExec(os.Args[2:]))
	}
}

// Supervisor runs machines' units without systemd. Every method may run
// concurrently; transitions of one unit are serialized (in this process by
// a mutex, across processes by a lock file). Its methods need root.
type Supervisor struct {
	p   paths.Paths
	exe string

	mu sync.Mutex
	// locks serializes the transitions of each unit; guarded by mu.
	locks map[string]*sync.Mutex
	// spare is a monitor waiting for a unit, refilling tells that one
	// is being started, closed that Close was called; guarded by mu.
	spare     *spare
	refilling bool
	closed    bool
}

// Option configures a Supervisor.
type Option func(*Supervisor)

// WithExecutable sets the program re-executed for monitors (default: the
// running executable, which must call Main).
func WithExecutable(path string) Option {
	return func(s *Supervisor) { s.exe = path }
}

// New returns a supervisor keeping its state under p.Run, logs under p.Log
// and cgroups under p.Cgroup. Units already running (started by an
// earlier supervisor that has since exited or crashed) are adopted: their
// monitors keep running them, and this supervisor sees, stops and kills
// them like its own.
//
// The supervisor keeps a spare monitor process ready for the next start
// (see Close).
func New(p paths.Paths, opts ...Option) (*Supervisor, error) {
	s := &Supervisor{p: p, locks: map[string]*sync.Mutex{}}
	for _, o := range opts {
		o(s)
	}
	if s.exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("new supervisor: %w", err)
		}
		s.exe = exe
	}
	for _, d := range []string{s.runDir(), p.Log} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("new supervisor: %w", err)
		}
	}
	s.replenish(0)
	return s, nil
}

// unitLock returns the in-process lock of unit.
func (s *Supervisor) unitLock(unit string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locks[unit]
	if !ok {
		l = &sync.Mutex{}
		s.locks[unit] = l
	}
	return l
}

func validUnitName(unit string) error {
	if unit == "" || strings.ContainsAny(unit, "/\x00") || unit == "." || unit == ".." {
		return fmt.Errorf("unit %q: %w", unit, ErrBadUnit)
	}
	return nil
}
