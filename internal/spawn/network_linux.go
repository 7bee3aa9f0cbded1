package spawn

import (
	"path/filepath"

	"github.com/berth-dev/berth/internal/containernet"
	"github.com/berth-dev/berth/internal/nspawnopts"
)

// setupNetwork builds the host side of the container's network (package
// containernet) once the stage's network namespace exists, before the
// payload starts.
func (ct *container) setupNetwork() error {
	c := &ct.sc.Config
	n := c.Network
	if !hostNetwork(n) {
		return nil
	}
	spec := containernet.Spec{Machine: c.Machine, Leader: ct.st.pid, Network: n, RunDir: ct.o.Paths.Run,
		Warnf: func(format string, args ...any) { logf(ct.o, c.Quiet, format, args...) }}
	if n.Veth || len(n.VethExtra) > 0 {
		id, err := containernet.HostMachineID(filepath.Join(ct.o.Paths.Root, "etc/machine-id"))
		if err != nil {
			return err
		}
		spec.HostID = id
	}
	nw, err := containernet.Setup(spec)
	if err != nil {
		return err
	}
	ct.net = nw
	return nil
}

// hostNetwork reports whether n has a host side to set up once the
// stage's network namespace exists.
func hostNetwork(n nspawnopts.Network) bool {
	return n.Veth || len(n.VethExtra) > 0 || len(n.Interfaces) > 0 || len(n.Ports) > 0
}

// ifIndices are the host-side interface indices to register.
func (ct *container) ifIndices() []int {
	if ct.net == nil {
		return nil
	}
	return ct.net.IfIndices
}
