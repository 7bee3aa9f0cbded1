package machine1_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/containercgroup"
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
	_, mnt := containercgroup.Detect("/sys/fs/cgroup")
	if mnt == "" {
		testbed.Unavailable(t, "no cgroup2 hierarchy")
	}
	dir := filepath.Join(mnt, fmt.Sprintf("berth-m1-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emptyGroup(dir) })
	sh := exec.Command("sh", "-c", `read x; sleep 1000 & wait`)
	in, err := sh.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sh.Process.Kill(); _ = sh.Wait() })
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(sh.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	_, _ = in.Write([]byte("go\n"))
	var child uint32
	eventually(t, "the child", func() bool {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", sh.Process.Pid, sh.Process.Pid))
		f := strings.Fields(string(data))
		if len(f) == 1 {
			n, _ := strconv.ParseUint(f[0], 10, 32)
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", n))
			if strings.TrimSpace(string(comm)) == "sleep" {
				child = uint32(n)
			}
		}
		return child != 0
	})
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

// emptyGroup kills what is left in a test cgroup and removes it.
func emptyGroup(dir string) {
	data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for range 100 {
		if os.Remove(dir) == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
