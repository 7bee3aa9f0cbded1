package spawn_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// pidsLimit is the task limit the fork bomb runs into.
const pidsLimit = 96

// TestIntegrationForkBomb (hardening checklist item 32): the container's
// init fork-bombs inside a pids limit. The bomb stays inside the limit,
// berth-nspawn still answers SIGTERM by ending the container, and nothing
// is left: no task (zombies count as tasks), no cgroup, no image lock, no
// propagation directory.
func TestIntegrationForkBomb(t *testing.T) {
	_, common := busybox(t)
	const machine = "t-forkbomb"
	cmd := exec.Command(testbed.Binary(t, "berth-nspawn"), append(common, "-M", machine,
		"/bin/sh", "-c", "echo up; read go; b() { b | b & }; b; exec sleep 100000")...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "up\n" {
		t.Fatalf("container said %q, %v", line, err)
	}
	tasks := limitTasks(t, leaderOf(t, cmd.Process.Pid), pidsLimit)
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fork bomb to fill the limit", func() bool { return tasks() >= pidsLimit/2 })
	t.Logf("%d tasks in the container at SIGTERM (limit %d)", tasks(), pidsLimit)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitExit(t, cmd)
	if n := tasks(); n != 0 {
		t.Errorf("%d tasks left in the container's pids cgroup", n)
	}
	if left := cgroupLeftovers(t, machine); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
	// The image lock and the propagation directory are free again.
	if r := nspawn(t, nil, append(common, "-M", machine, "/bin/true")...); r.code != 0 {
		t.Errorf("the next start failed: status %d: %s", r.code, r.stderr)
	}
}

// leaderOf returns the container's PID 1: the child of the spawner.
func leaderOf(t *testing.T, spawner int) int {
	t.Helper()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", spawner))
	for _, f := range tasks {
		data, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(field); err == nil {
				return pid
			}
		}
	}
	t.Fatalf("berth-nspawn %d has no child", spawner)
	return 0
}

// limitTasks puts pid (before it forks) into a new pids cgroup limited to
// max tasks and returns a function counting the cgroup's tasks. The cgroup
// is a v1 pids hierarchy's where there is one (hybrid hosts), otherwise a
// child of pid's own cgroup2 group.
func limitTasks(t *testing.T, pid, max int) func() int {
	t.Helper()
	dir := filepath.Join("/sys/fs/cgroup/pids", "berth-test-"+strconv.Itoa(os.Getpid())+"-"+strconv.Itoa(pid))
	if _, err := os.Stat("/sys/fs/cgroup/pids/cgroup.procs"); err != nil {
		dir = v2PidsGroup(t, pid)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(dir) })
	for _, w := range [][2]string{{"pids.max", strconv.Itoa(max)}, {"cgroup.procs", strconv.Itoa(pid)}} {
		if err := os.WriteFile(filepath.Join(dir, w[0]), []byte(w[1]), 0); err != nil {
			t.Fatalf("%s: %v", w[0], err)
		}
	}
	return func() int {
		data, err := os.ReadFile(filepath.Join(dir, "pids.current"))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		return n
	}
}

// v2PidsGroup names a new cgroup2 group next to pid's, on a host whose
// pids controller is in the unified hierarchy.
func v2PidsGroup(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "0::"); ok {
			parent := filepath.Join("/sys/fs/cgroup", filepath.Dir(rest))
			if ctl, _ := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control")); strings.Contains(string(ctl), "pids") {
				return filepath.Join(parent, "berth-test-forkbomb")
			}
		}
	}
	testbed.Unavailable(t, "no pids controller for the container's cgroup")
	return ""
}

// waitFor polls cond until it holds, failing t after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(runTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
