package containernet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/internal/nspawnopts"
)

// PortsFile is the content of /run/berth/ports/MACHINE (see the package
// documentation for the contract).
type PortsFile struct {
	// Machine is the machine name (also the file name).
	Machine string `json:"machine"`
	// Leader is the PID of the container's PID 1 on the host.
	Leader int `json:"leader"`
	// IfIndex is the index of the host-side link the container is reached
	// through: the ve-* veth, or the bridge with --network-bridge and
	// --network-zone; 0 when the container has no veth.
	IfIndex int `json:"ifindex"`
	// Ports are the --port forwards in command-line order.
	Ports []nspawnopts.Port `json:"ports"`
}

// PortsPath is the ports file of machine under dir (paths.Paths.Run/ports).
func PortsPath(dir, machine string) string { return filepath.Join(dir, machine) }

// WritePorts writes f to PortsPath(dir, f.Machine) atomically (a
// temporary file renamed into place), creating dir.
func WritePorts(dir string, f PortsFile) error {
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("write ports: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write ports: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".#"+f.Machine+".")
	if err != nil {
		return fmt.Errorf("write ports: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write ports: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write ports: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write ports: %w", err)
	}
	if err := os.Rename(tmp.Name(), PortsPath(dir, f.Machine)); err != nil {
		return fmt.Errorf("write ports: %w", err)
	}
	return nil
}

// ReadPorts reads and checks a ports file; berthd's side of the contract.
func ReadPorts(path string) (PortsFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return PortsFile{}, fmt.Errorf("read ports: %w", err)
	}
	f, err := ParsePorts(data)
	if err != nil {
		return PortsFile{}, fmt.Errorf("read ports %s: %w", path, err)
	}
	return f, nil
}

// ParsePorts parses and checks the content of a ports file: a machine
// name, a leader PID above 0, an index not below 0, and ports as -p
// allows them.
func ParsePorts(data []byte) (PortsFile, error) {
	var f PortsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return PortsFile{}, fmt.Errorf("parse ports: %w", err)
	}
	if f.Machine == "" || f.Leader <= 0 || f.IfIndex < 0 {
		return PortsFile{}, errors.New("parse ports: no machine, leader or link")
	}
	for _, p := range f.Ports {
		if p.Host == 0 || p.Container == 0 || (p.Protocol != "tcp" && p.Protocol != "udp") {
			return PortsFile{}, fmt.Errorf("parse ports: bad port %v", p)
		}
	}
	return f, nil
}
