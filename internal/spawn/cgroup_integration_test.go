package spawn_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/containercgroup"
	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationKeepUnitCgroup runs berth-nspawn --keep-unit from a unit
// cgroup of its own: the container lives in <unit>/payload, which is gone
// afterwards, and the unit cgroup is left as it was.
func TestIntegrationKeepUnitCgroup(t *testing.T) {
	_, common := busybox(t)
	_, mnt := containercgroup.Detect("/sys/fs/cgroup")
	if mnt == "" {
		testbed.Unavailable(t, "no cgroup2 hierarchy")
	}
	unit := filepath.Join(mnt, "berth-test-keepunit-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(unit, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Rmdir(unit) })
	args := strings.Join(append(common, "-M", "t-keep", "--keep-unit", "/bin/sleep", "100"), " ")
	cmd := exec.Command("/bin/sh", "-c", "echo $$ > "+unit+"/cgroup.procs && exec "+testbed.Binary(t, "berth-nspawn")+" "+args)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	pid := containerInit(t, cmd)
	deadline := time.Now().Add(runTimeout)
	for {
		data, _ := os.ReadFile(filepath.Join(unit, "payload", "cgroup.procs"))
		if strings.Contains(string(data), pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container PID %s never showed up in %s/payload", pid, unit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, cmd)
	entries, _ := os.ReadDir(unit)
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("%s/%s left behind", unit, e.Name())
		}
	}
}
