package machine1_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/testbed"
)

// rows returns the first three columns of machinectl list's table rows.
func rows(out string) [][]string {
	var got [][]string
	for _, line := range strings.Split(out, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 3 || strings.HasSuffix(line, "listed.") {
			continue
		}
		got = append(got, f[:3])
	}
	return got
}

// TestIntegrationMachinectl drives berthd with the real machinectl: list,
// status, show, kill and terminate, and watches MachineNew/MachineRemoved.
func TestIntegrationMachinectl(t *testing.T) {
	testbed.RequireRoot(t)
	bus := testbed.StartBus(t)
	startBerthd(t, bus, t.TempDir())
	signals := watchSignals(t, bus)
	box1, box2 := startLeader(t, "--net"), startLeader(t)
	register(t, "box1", box1.PID, "/")
	register(t, "box2", box2.PID, "")
	signals.expect(t, "MachineNew box1", "MachineNew box2")

	t.Run("list", func(t *testing.T) {
		out := mustMachinectl(t, "list")
		want := [][]string{{"box1", "container", "test"}, {"box2", "container", "test"}}
		if diff := cmp.Diff(want, rows(out)); diff != "" || !strings.Contains(out, "2 machines listed.") {
			t.Errorf("machinectl list (-want +got):\n%s\n%s", diff, out)
		}
		out = mustMachinectl(t, "list", "-a", "--no-legend")
		if !strings.HasPrefix(out, ".host host") {
			t.Errorf("machinectl list -a does not start with .host:\n%s", out)
		}
	})
	t.Run("status", func(t *testing.T) {
		out := mustMachinectl(t, "status", "box1")
		for _, want := range []string{fmt.Sprintf("Leader: %d (sleep)", box1.PID), "Service: test; class container", "Root: /"} {
			if !strings.Contains(out, want) {
				t.Errorf("machinectl status lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("show", func(t *testing.T) {
		out := mustMachinectl(t, "show", "box1")
		for _, want := range []string{"Name=box1", "Class=container", fmt.Sprintf("Leader=%d", box1.PID), "State=running", "RootDirectory=/"} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("machinectl show lacks %q:\n%s", want, out)
			}
		}
		if out := mustMachinectl(t, "show", "-p", "PoolPath", "--value"); !strings.HasSuffix(strings.TrimSpace(out), "/var/lib/machines") {
			t.Errorf("machinectl show -p PoolPath = %q", out)
		}
	})
	t.Run("kill leader", func(t *testing.T) {
		mustMachinectl(t, "kill", "--kill-whom=leader", "-s", "SIGKILL", "box2")
		eventually(t, "box2 leader to die", func() bool { return !alive(box2.PID) })
		signals.expect(t, "MachineRemoved box2")
	})
	t.Run("terminate", func(t *testing.T) {
		mustMachinectl(t, "terminate", "box1")
		eventually(t, "box1 leader to die", func() bool { return !alive(box1.PID) })
		signals.expect(t, "MachineRemoved box1")
		if out := mustMachinectl(t, "list"); !strings.Contains(out, "No machines.") {
			t.Errorf("machinectl list after terminate:\n%s", out)
		}
	})
	t.Run("unknown machine", func(t *testing.T) {
		out, err := machinectl(t, "status", "nosuch")
		if err == nil || !strings.Contains(out, "nosuch") {
			t.Errorf("machinectl status nosuch = %v:\n%s", err, out)
		}
	})
}

func mustMachinectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := machinectl(t, args...)
	if err != nil {
		t.Fatalf("machinectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// signalLog collects MachineNew/MachineRemoved as "Member name".
type signalLog struct {
	ch chan *dbus.Signal
}

func watchSignals(t *testing.T, bus *testbed.Bus) *signalLog {
	t.Helper()
	conn := bus.Conn(t)
	if err := conn.AddMatchSignal(dbus.WithMatchInterface(busName + ".Manager")); err != nil {
		t.Fatal(err)
	}
	l := &signalLog{ch: make(chan *dbus.Signal, 256)}
	conn.Signal(l.ch)
	return l
}

// expect waits for the given signals, in order, skipping others.
func (l *signalLog) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		timeout := time.After(30 * time.Second)
		for found := false; !found; {
			select {
			case s := <-l.ch:
				if len(s.Body) == 2 {
					found = fmt.Sprintf("%s %v", s.Name[strings.LastIndex(s.Name, ".")+1:], s.Body[0]) == w
				}
			case <-timeout:
				t.Fatalf("signal %q never came", w)
			}
		}
	}
}

// TestIntegrationKillWhom checks machinectl kill's --kill-whom: "leader"
// signals only the leader, "all" every process in the machine's PID
// namespace. The leader is that namespace's init, so SIGTERM (which it
// does not handle) leaves it alive while its child dies.
func TestIntegrationKillWhom(t *testing.T) {
	testbed.RequireRoot(t)
	bus := testbed.StartBus(t)
	startBerthd(t, bus, t.TempDir())
	l := startLeader(t)
	child := exec.Command("nsenter", "-t", strconv.Itoa(int(l.PID)), "-p", "-m", "--", "sleep", "1000000")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	var inner uint32
	eventually(t, "the child inside the machine", func() bool {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", child.Process.Pid, child.Process.Pid))
		n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 32)
		inner = uint32(n)
		return err == nil
	})
	register(t, "killme", l.PID, "")
	mustMachinectl(t, "kill", "--kill-whom=leader", "-s", "SIGTERM", "killme")
	time.Sleep(200 * time.Millisecond)
	if !alive(inner) || !alive(l.PID) {
		t.Fatalf("kill --kill-whom=leader hit the wrong process: child %v leader %v", alive(inner), alive(l.PID))
	}
	mustMachinectl(t, "kill", "--kill-whom=all", "-s", "SIGTERM", "killme")
	eventually(t, "the child to die", func() bool { return !alive(inner) })
	if !alive(l.PID) {
		t.Error("SIGTERM killed the namespace's init")
	}
}

// TestIntegrationTerminateHalts checks that terminating a machine whose
// leader is its PID namespace's init sends it SIGRTMIN+3, systemd's halt.
func TestIntegrationTerminateHalts(t *testing.T) {
	testbed.RequireRoot(t)
	bus := testbed.StartBus(t)
	startBerthd(t, bus, t.TempDir())
	marker := filepath.Join(t.TempDir(), "halted")
	script := fmt.Sprintf(`trap 'echo halt > %s; exit 0' 37; while :; do sleep 0.1; done`, marker)
	l := startLeaderCmd(t, "sh", nil, "sh", "-c", script)
	register(t, "halter", l.PID, "")
	signals := watchSignals(t, bus)
	mustMachinectl(t, "terminate", "halter")
	signals.expect(t, "MachineRemoved halter")
	if data, err := os.ReadFile(marker); err != nil || string(data) != "halt\n" {
		t.Errorf("init did not get SIGRTMIN+3: %q, %v", data, err)
	}
}
