package machine1_test

import (
	"testing"

	"github.com/berth-dev/berth/internal/machine1"
	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationCgroupMachine registers a machine whose leader (a shell
// in the host's PID namespace) has a cgroup of its own and a child: over
// the bus, GetMachineByPID maps the child to the machine, and
// `machinectl kill` (who "all" by default) stops the child too, not only
// the leader.
func TestIntegrationCgroupMachine(t *testing.T) {
	testbed.RequireRoot(t)
	g := testbed.StartGroup(t, 1)
	sh, child := g.Leader, g.Children[0]
	bus := testbed.StartBus(t)
	startBerthd(t, bus, t.TempDir())
	register(t, "grouped", uint32(sh.Process.Pid), "")
	var path string
	manager := bus.Conn(t).Object(busName, machine1.ManagerPath)
	if err := manager.Call(mgr+"GetMachineByPID", 0, child).Store(&path); err != nil {
		t.Fatalf("GetMachineByPID(child) = %v", err)
	}
	if want := string(machine1.MachinePath("grouped")); path != want {
		t.Errorf("GetMachineByPID(child) = %s, want %s", path, want)
	}
	if out, err := machinectl(t, "kill", "grouped"); err != nil {
		t.Fatalf("machinectl kill: %v: %s", err, out)
	}
	eventually(t, "the child to get SIGTERM", func() bool { return !alive(child) })
}
