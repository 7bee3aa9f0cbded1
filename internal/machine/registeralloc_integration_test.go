package machine_test

import (
	"os/exec"
	"testing"

	"github.com/berth-dev/berth/internal/machine"
	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationRegisterAllocs bounds the allocations of a registration
// and its unregistration: the entry and the exit watch are all that is
// left (the state file's and the /proc files' paths and contents are
// built on the stack), and garbage made a thousand registrations at a
// time is what fragments berthd's heap.
func TestIntegrationRegisterAllocs(t *testing.T) {
	testbed.RequireRoot(t)
	c := exec.Command("sleep", "infinity")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	r := newRegistry(t)
	got := testing.AllocsPerRun(100, func() {
		if _, err := r.Register(machine.Spec{Name: "allocs", Class: machine.ClassContainer, Leader: uint32(c.Process.Pid)}); err != nil {
			t.Fatal(err)
		}
		if err := r.Unregister("allocs"); err != nil {
			t.Fatal(err)
		}
	})
	if got > 3 {
		t.Errorf("%v allocations per registration, want at most 3", got)
	}
}
