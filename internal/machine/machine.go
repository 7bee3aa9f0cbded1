package machine

import (
	"errors"
	"fmt"
	"path/filepath"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/names"
)

// Sentinel errors. The bus adapter maps each to one D-Bus error name.
var (
	// ErrInvalid marks invalid arguments (D-Bus InvalidArgs).
	ErrInvalid = errors.New("invalid argument")
	// ErrNotFound means no machine has the name (NoSuchMachine).
	ErrNotFound = errors.New("no such machine")
	// ErrExists means the name or the leader is taken (MachineExists).
	ErrExists = errors.New("machine exists")
	// ErrNoMachineForPID means a process belongs to no machine (NoMachineForPID).
	ErrNoMachineForPID = errors.New("no machine for process")
	// ErrNotSupported means the operation does not apply to the machine's class (NotSupported).
	ErrNotSupported = errors.New("operation not supported")
	// ErrNoPrivateNetworking means the machine shares the host's network namespace.
	ErrNoPrivateNetworking = errors.New("machine has no private networking")
	// ErrNoUserMapping means a UID has no mapping (NoSuchUserMapping).
	ErrNoUserMapping = errors.New("no such user mapping")
	// ErrNoGroupMapping means a GID has no mapping (NoSuchGroupMapping).
	ErrNoGroupMapping = errors.New("no such group mapping")
	// ErrLimit means a registry limit was reached (LimitsExceeded).
	ErrLimit = errors.New("limit exceeded")
)

// Class is a machine's class as machined names it.
type Class string

// The classes. ClassUnknown is the empty class a registration may give.
const (
	ClassUnknown   Class = ""
	ClassContainer Class = "container"
	ClassVM        Class = "vm"
	ClassHost      Class = "host"
)

// State is a machine's life-cycle state.
type State string

// The states machined reports.
const (
	StateOpening State = "opening"
	StateRunning State = "running"
	StateClosing State = "closing"
)

// HostName is the name of the host's pseudo-machine.
const HostName = ".host"

// Bounds on registration input (machined has none; a bus peer must not be
// able to make the daemon store unbounded data).
const (
	MaxServiceLen = 256
	MaxPathLen    = 4096
	MaxInterfaces = 256
)

// Spec is what a registration gives.
type Spec struct {
	Name              string
	ID                []byte
	Service           string
	Class             Class
	Leader            uint32
	RootDirectory     string
	NetworkInterfaces []int32
}

// Machine is a snapshot of a registered machine.
type Machine struct {
	Spec
	// Unit is the systemd unit the leader runs in ("" if none is known).
	Unit string
	// State is opening, running or closing.
	State State
	// Timestamp and TimestampMonotonic are the registration time in µs of
	// CLOCK_REALTIME and CLOCK_MONOTONIC.
	Timestamp, TimestampMonotonic uint64
}

// Validate checks s as machined's CreateMachine and RegisterMachine do, plus
// size bounds, before anything touches the system. self is the daemon's
// own PID, which may never be a leader. A Leader of 0 must have been
// replaced by the caller's PID before.
func (s Spec) Validate(self uint32) error {
	if err := names.ValidMachine(s.Name); err != nil {
		return fmt.Errorf("invalid machine name %q: %w", s.Name, ErrInvalid)
	}
	if len(s.ID) != 0 && len(s.ID) != 16 {
		return fmt.Errorf("invalid machine id of %d bytes: %w", len(s.ID), ErrInvalid)
	}
	switch s.Class {
	case ClassUnknown, ClassContainer, ClassVM:
	default:
		return fmt.Errorf("invalid machine class %q: %w", s.Class, ErrInvalid)
	}
	switch s.Leader {
	case 0, 1, self:
		return fmt.Errorf("invalid leader PID %d: %w", s.Leader, ErrInvalid)
	}
	if len(s.Service) > MaxServiceLen || !utf8.ValidString(s.Service) {
		return fmt.Errorf("invalid service name: %w", ErrInvalid)
	}
	return validateNetwork(s)
}

func validateNetwork(s Spec) error {
	if s.RootDirectory != "" && (!filepath.IsAbs(s.RootDirectory) || len(s.RootDirectory) > MaxPathLen ||
		!utf8.ValidString(s.RootDirectory)) {
		return fmt.Errorf("root directory must be empty or an absolute path: %w", ErrInvalid)
	}
	if len(s.NetworkInterfaces) > MaxInterfaces {
		return fmt.Errorf("too many network interfaces: %w", ErrInvalid)
	}
	for _, i := range s.NetworkInterfaces {
		if i <= 0 {
			return fmt.Errorf("invalid network interface index %d: %w", i, ErrInvalid)
		}
	}
	return nil
}

// Killable reports whether Terminate and Kill apply to a machine of class c
// (machined: containers and VMs only).
func (c Class) Killable() bool { return c == ClassContainer || c == ClassVM }
