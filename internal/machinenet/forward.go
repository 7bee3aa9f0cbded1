package machinenet

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

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

// ParsePort parses one "[tcp:|udp:]HOST[:CONTAINER]" forward of machine,
// as nspawn's --port takes it; CONTAINER defaults to HOST.
func ParsePort(machine, s string) (Forward, error) {
	f := Forward{Machine: machine, Proto: "tcp"}
	rest := s
	if p, r, ok := strings.Cut(s, ":"); ok && (p == "tcp" || p == "udp") {
		f.Proto, rest = p, r
	}
	host, ctr, hasCtr := strings.Cut(rest, ":")
	if !hasCtr {
		ctr = host
	}
	hp, err1 := strconv.ParseUint(host, 10, 16)
	cp, err2 := strconv.ParseUint(ctr, 10, 16)
	if err1 != nil || err2 != nil {
		return Forward{}, fmt.Errorf("%w: %q", ErrInvalid, s)
	}
	f.HostPort, f.ContainerPort = uint16(hp), uint16(cp)
	if err := f.Validate(); err != nil {
		return Forward{}, err
	}
	return f, nil
}

// parsePortsFile parses a machine's run-time ports file, skipping blank
// lines and lines starting with '#'; a bad line is an error.
func parsePortsFile(machine string, data []byte) ([]Forward, error) {
	var out []Forward
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f, err := ParsePort(machine, line)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}
