package containernet

import (
	"errors"
	"path/filepath"

	"github.com/berth-dev/berth/internal/nspawnopts"
)

// ErrNoMachineID is returned when the host has no usable /etc/machine-id,
// which the stable MAC addresses are derived from.
var ErrNoMachineID = errors.New("no host machine ID")

// Spec is what Setup builds for one container.
type Spec struct {
	// Machine is the machine name.
	Machine string
	// Leader is a PID in the container's network namespace (its PID 1).
	Leader int
	// HostID is the host's machine ID (see HostMachineID).
	HostID [16]byte
	// Network are the parsed network options.
	Network nspawnopts.Network
	// RunDir is berth's runtime directory (paths.Paths.Run): the zone lock
	// and the ports files live under it.
	RunDir string
	// Warnf receives warnings (a shortened interface name); nil drops them.
	Warnf func(format string, args ...any)
}

// ZoneLockPath is the lock serialising zone bridge changes.
func (s Spec) ZoneLockPath() string { return filepath.Join(s.RunDir, "network-zone.lock") }

// PortsDir is where the ports files are written.
func (s Spec) PortsDir() string { return filepath.Join(s.RunDir, "ports") }

// cleanup is a stack of undo steps, run last first.
type cleanup []func()

func (c *cleanup) add(f func()) { *c = append(*c, f) }

func (c *cleanup) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
	*c = nil
}
