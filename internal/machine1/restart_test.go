package machine1_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/machine1"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationRestart kills berthd with SIGKILL while machines run and
// starts it again: live machines come back unchanged, a machine whose
// leader died meanwhile and one whose PID was "reused" are cleaned up, bad
// state files are skipped with a warning, and nothing is duplicated.
func TestIntegrationRestart(t *testing.T) {
	testbed.RequireRoot(t)
	bus := testbed.StartBus(t)
	root := t.TempDir()
	stateDir := filepath.Join(paths.Under(root).Run, "machines")
	d := startBerthd(t, bus, root)
	a, b, c, other := startLeader(t, "--net"), startLeader(t), startLeader(t), startLeader(t)
	mustCall(t, bus, "RegisterMachineWithNetwork", "alpha", []byte("0123456789abcdef"), "svc", "container",
		a.PID, "/srv/alpha", []int32{1})
	mustCall(t, bus, "RegisterMachine", "beta", []byte{}, "svc", "vm", b.PID, "")
	mustCall(t, bus, "RegisterMachine", "gamma", []byte{}, "svc", "container", c.PID, "")
	before := snapshot(t, bus, "alpha", "beta")

	d.Stop(syscall.SIGKILL)
	killLeader(t, c)
	writeBadStateFiles(t, stateDir, a.PID, other.PID)

	d = startBerthd(t, bus, root)
	if diff := cmp.Diff(before, snapshot(t, bus, "alpha", "beta")); diff != "" {
		t.Errorf("machines after restart (-before +after):\n%s", diff)
	}
	if got := listNames(t, bus); !cmp.Equal(got, []string{".host", "alpha", "beta"}) {
		t.Errorf("ListMachines after restart = %v", got)
	}
	files, _ := os.ReadDir(stateDir)
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	if diff := cmp.Diff([]string{"alpha", "beta", "garbage", "mismatch"}, names); diff != "" {
		t.Errorf("state files after restart (-want +got):\n%s", diff)
	}
	for _, w := range []string{"skipping state file", "garbage", "mismatch", "gamma is gone", "reused is gone"} {
		if !strings.Contains(d.Log(), w) {
			t.Errorf("berthd log lacks %q:\n%s", w, d.Log())
		}
	}
	if !alive(a.PID) || !alive(b.PID) || !alive(other.PID) {
		t.Error("a restart stopped a machine or signalled a reused PID")
	}
	signals := watchSignals(t, bus)
	killLeader(t, a)
	signals.expect(t, "MachineRemoved alpha")
}

func killLeader(t *testing.T, l *leader) {
	t.Helper()
	_ = syscall.Kill(int(l.PID), syscall.SIGKILL)
	eventually(t, "leader to exit", func() bool { return !alive(l.PID) })
}

// writeBadStateFiles adds a garbage file, a file whose name differs from
// its NAME, a leftover temp file and a machine whose PID now belongs to
// another process (same PID as other, start time of the original).
func writeBadStateFiles(t *testing.T, dir string, alphaPID, otherPID uint32) {
	t.Helper()
	alpha, err := os.ReadFile(filepath.Join(dir, "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	reused := strings.Replace(string(alpha), `NAME="alpha"`, `NAME="reused"`, 1)
	reused = strings.Replace(reused, fmt.Sprintf("LEADER=%d\n", alphaPID), fmt.Sprintf("LEADER=%d\n", otherPID), 1)
	files := map[string]string{
		"garbage":   "\x00\x01 not a state file\n",
		"mismatch":  strings.Replace(string(alpha), `NAME="alpha"`, `NAME="delta"`, 1),
		".#alpha.1": "half written",
		"reused":    reused,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mustCall(t *testing.T, bus *testbed.Bus, method string, args ...any) {
	t.Helper()
	conn := bus.Conn(t)
	if call := conn.Object(busName, machine1.ManagerPath).Call(busName+".Manager."+method, 0, args...); call.Err != nil {
		t.Fatalf("%s: %v", method, call.Err)
	}
}

// snapshot returns every property of the named machines.
func snapshot(t *testing.T, bus *testbed.Bus, names ...string) map[string]map[string]any {
	t.Helper()
	conn := bus.Conn(t)
	out := map[string]map[string]any{}
	for _, n := range names {
		var props map[string]dbus.Variant
		err := conn.Object(busName, machine1.MachinePath(n)).Call("org.freedesktop.DBus.Properties.GetAll", 0,
			busName+".Machine").Store(&props)
		if err != nil {
			t.Fatalf("GetAll %s: %v", n, err)
		}
		out[n] = map[string]any{}
		for k, v := range props {
			out[n][k] = v.Value()
		}
	}
	return out
}

func listNames(t *testing.T, bus *testbed.Bus) []string {
	t.Helper()
	var rows [][]any
	conn := bus.Conn(t)
	if err := conn.Object(busName, machine1.ManagerPath).Call(busName+".Manager.ListMachines", 0).Store(&rows); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r[0].(string))
	}
	return out
}
