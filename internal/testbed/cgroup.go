package testbed

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

	"golang.org/x/sys/unix"
)

// Group is a test cgroup2 group of its own holding a shell leader and its
// sleeping children, in the test's PID namespace, so that only the
// cgroup ties the children to the leader's machine.
type Group struct {
	// Dir is the group's cgroup2 directory.
	Dir string
	// Leader is the shell; Children its sleep processes.
	Leader   *exec.Cmd
	Children []uint32
}

// StartGroup creates a cgroup2 group, moves a shell into it and has the
// shell start n sleeping children. When t ends, everything in the group
// is killed and the group removed.
func StartGroup(t testing.TB, n int) *Group {
	t.Helper()
	mnt := cgroup2Mount()
	if mnt == "" {
		Unavailable(t, "no cgroup2 hierarchy")
	}
	g := &Group{Dir: filepath.Join(mnt, fmt.Sprintf("berth-test-%d-%d", os.Getpid(), time.Now().UnixNano()))}
	if err := os.Mkdir(g.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeGroup(g.Dir) })
	g.Leader = exec.Command("sh", "-c", "read x; "+strings.Repeat("sleep 1000 & ", n)+"wait")
	in, err := g.Leader.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Leader.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Leader.Process.Kill(); _ = g.Leader.Wait() })
	if err := os.WriteFile(filepath.Join(g.Dir, "cgroup.procs"), []byte(strconv.Itoa(g.Leader.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	_, _ = in.Write([]byte("go\n"))
	g.Children = waitChildren(t, g.Leader.Process.Pid, n)
	return g
}

// cgroup2Mount returns where the cgroup2 hierarchy is mounted: at
// /sys/fs/cgroup on a pure v2 host, below it on a hybrid one, else "".
func cgroup2Mount() string {
	for _, dir := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var fs unix.Statfs_t
		if unix.Statfs(dir, &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC {
			return dir
		}
	}
	return ""
}

// waitChildren waits until pid has n children running sleep.
func waitChildren(t testing.TB, pid, n int) []uint32 {
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		var kids []uint32
		for _, f := range strings.Fields(string(data)) {
			k, _ := strconv.ParseUint(f, 10, 32)
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", k))
			if strings.TrimSpace(string(comm)) == "sleep" {
				kids = append(kids, uint32(k))
			}
		}
		if len(kids) == n {
			return kids
		}
		if time.Now().After(deadline) {
			t.Fatalf("children never started: %v", kids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// removeGroup kills what is left in a test cgroup and removes it.
func removeGroup(dir string) {
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
