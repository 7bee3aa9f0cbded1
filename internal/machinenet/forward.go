package machinenet

import (
	"errors"
	"fmt"

	"github.com/berth-dev/berth/internal/names"
)

// ErrInvalid is returned for a malformed port forward.
var ErrInvalid = errors.New("invalid port forward")

// Forward is a port forward to a machine: connections to HostPort on the
// host go to ContainerPort at the machine's current address.
type Forward struct {
	// Machine is the machine's name.
	Machine string `json:"machine"`
	// Proto is "tcp" or "udp".
	Proto string `json:"proto"`
	// HostPort and ContainerPort are the ports on either side.
	HostPort      uint16 `json:"host_port"`
	ContainerPort uint16 `json:"container_port"`
}

// Validate checks f.
func (f Forward) Validate() error {
	if err := names.ValidMachine(f.Machine); err != nil {
		return fmt.Errorf("%w: machine name %q", ErrInvalid, f.Machine)
	}
	if f.Proto != "tcp" && f.Proto != "udp" {
		return fmt.Errorf("%w: protocol %q", ErrInvalid, f.Proto)
	}
	if f.HostPort == 0 || f.ContainerPort == 0 {
		return fmt.Errorf("%w: port 0", ErrInvalid)
	}
	return nil
}

// sameHostPort reports whether f and g claim the same port on the host.
func (f Forward) sameHostPort(g Forward) bool { return f.Proto == g.Proto && f.HostPort == g.HostPort }
