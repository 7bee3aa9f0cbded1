package machine1_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

const busName = "org.freedesktop.machine1"

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	// b is guarded by mu.
	b bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startBerthd starts berthd on bus with its paths under root, in the
// test's network namespace and without container networking, and waits
// until it owns the bus name.
func startBerthd(t testing.TB, bus *testbed.Bus, root string) *testbed.Berthd {
	t.Helper()
	return testbed.StartBerthdIn(t, bus, paths.Under(root), nil, "--stop-timeout", "5s", "--network=no")
}

// leader is a process in new PID and mount namespaces (a stand-in for a
// container's init): unshare is its parent, PID the sleep inside.
type leader struct {
	cmd *exec.Cmd
	PID uint32
}

// startLeader starts `unshare --pid --fork --mount sleep` and returns it;
// it is killed when t ends. extra adds unshare options (e.g. --net).
func startLeader(t testing.TB, extra ...string) *leader {
	t.Helper()
	return startLeaderCmd(t, "sleep", extra, "sleep", "1000000")
}

// startLeaderCmd is startLeader running cmd, whose process name is comm.
func startLeaderCmd(t testing.TB, comm string, extra []string, cmd ...string) *leader {
	t.Helper()
	args := append(append([]string{"--pid", "--fork", "--mount", "--kill-child"}, extra...), cmd...)
	c := exec.Command(testbed.RequireTool(t, "unshare"), args...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	l := &leader{cmd: c}
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	t.Cleanup(func() { _ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for l.PID == 0 {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", c.Process.Pid, c.Process.Pid))
		if f := strings.Fields(string(data)); len(f) > 0 {
			n, _ := strconv.ParseUint(f[0], 10, 32)
			// Wait for the exec, so the leader's identity is final.
			if name, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", n)); strings.TrimSpace(string(name)) == comm {
				l.PID = uint32(n)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("leader never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return l
}

// alive reports whether PID still runs (not a zombie).
func alive(pid uint32) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	return i > 0 && len(data) > i+2 && data[i+2] != 'Z'
}

// machinectl runs the real machinectl in a mount namespace where
// /run/systemd/system exists (it refuses to run otherwise), which berthd
// never sees.
func machinectl(t testing.TB, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return machinectlCtx(ctx, t, args...)
}

// machinectlCtx is machinectl until ctx ends (it is then killed).
func machinectlCtx(ctx context.Context, t testing.TB, args ...string) (string, error) {
	t.Helper()

	mc := testbed.RequireTool(t, "machinectl")
	script := `mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && exec "$0" "$@"`
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script, mc, "--no-pager"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + os.Getenv(testbed.SystemBusEnv),
		"SYSTEMD_COLORS=0", "LANG=C.UTF-8", "TZ=UTC"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// watchWriter collects output and closes seen once it contains want.
type watchWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := strings.Contains(w.buf.String(), w.want)
	w.buf.Write(p)
	if !had && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// machinectlUntil runs an interactive machinectl verb until its output
// contains want (or a generous deadline passes), then stops it and
// returns the output.
func machinectlUntil(t testing.TB, want string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &watchWriter{want: want, seen: make(chan struct{})}
	mc := testbed.RequireTool(t, "machinectl")
	script := `mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && exec "$0" "$@"`
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script, mc, "--no-pager"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + os.Getenv(testbed.SystemBusEnv), "TZ=UTC"}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.seen:
	case <-time.After(60 * time.Second):
	}
	cancel()
	_ = cmd.Wait()
	return w.String()
}

// busctl runs the real busctl on the test bus; as nobody when unpriv.
func busctl(t testing.TB, unpriv bool, args ...string) (string, error) {
	t.Helper()
	bin := testbed.RequireTool(t, "busctl")
	argv := append([]string{bin, "--system", "--no-pager"}, args...)
	if unpriv {
		argv = append([]string{testbed.RequireTool(t, "setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + os.Getenv(testbed.SystemBusEnv), "SYSTEMD_COLORS=0"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// register registers a container with busctl as root.
func register(t testing.TB, name string, pid uint32, root string) {
	t.Helper()
	out, err := busctl(t, false, "call", busName, "/org/freedesktop/machine1", busName+".Manager",
		"RegisterMachine", "sayssus", name, "0", "test", "container", strconv.FormatUint(uint64(pid), 10), root)
	if err != nil {
		t.Fatalf("RegisterMachine %s: %v: %s", name, err, out)
	}
}

// eventually polls cond until it holds, failing t after a generous deadline.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
