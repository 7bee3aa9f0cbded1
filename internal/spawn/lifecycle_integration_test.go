package spawn_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

func TestIntegrationLifecycle(t *testing.T) {
	runOptionCases(t, []optionCase{
		{name: "reboot exits 133 under --keep-unit", args: []string{"-M", "t-reboot", "--keep-unit", "reboot", "-f"}, wantCode: 133},
		{name: "reboot without --keep-unit starts again", args: append([]string{"-M", "t-reboot2"}, sh("test -e /booted && exit 7; touch /booted; reboot -f")...), wantCode: 7},
		{name: "poweroff exits 0", args: []string{"-M", "t-poweroff", "poweroff", "-f"}, wantCode: 0},
		{name: "killed payload is a failure", args: append([]string{"-M", "t-killed", "-a"}, sh("kill -9 $$")...), wantCode: 255},
	})
}

// startNspawn starts berth-nspawn in the background with output captured.
func startNspawn(t *testing.T, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(testbed.Binary(t, "berth-nspawn"), args...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd, &out
}

// waitExit waits for cmd and returns its exit status, failing t after a
// generous deadline.
func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(runTimeout):
		t.Fatal("berth-nspawn did not exit")
		return -1
	}
}

// notifySocket listens on a datagram socket like a service manager's and
// returns its path and a channel of received messages.
func notifySocket(t *testing.T) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return path, ch
}

// recvNotify waits for a notify message, failing t when cmd exits first.
func recvNotify(t *testing.T, ch <-chan string, cmd *exec.Cmd, out *bytes.Buffer) string {
	t.Helper()
	exited := make(chan struct{})
	go func() {
		for cmd.ProcessState == nil && cmd.Process != nil {
			if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
				close(exited)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	select {
	case m := <-ch:
		return m
	case <-exited:
		t.Fatalf("berth-nspawn exited before it was ready: %s", out)
	case <-time.After(runTimeout):
		t.Fatal("no sd_notify message")
	}
	return ""
}

func TestIntegrationSignals(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		// The stub init forwards the kill signal to the payload, which dies of it.
		{"--kill-signal is forwarded", []string{"-M", "t-sig1", "--kill-signal=SIGUSR1", "-a", "/bin/sleep", "100"}, 255},
		// Without a kill signal the container is killed.
		{"no kill signal kills the container", []string{"-M", "t-sig2", "/bin/sleep", "100"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, common := busybox(t)
			sock, ready := notifySocket(t)
			cmd, out := startNspawn(t, []string{"NOTIFY_SOCKET=" + sock}, append(common, tc.args...)...)
			msg := recvNotify(t, ready, cmd, out)
			if !strings.Contains(msg, "READY=1") || !strings.Contains(msg, "X_NSPAWN_LEADER_PID=") {
				t.Errorf("notify message %q lacks READY=1 or the leader PID", msg)
			}
			_ = cmd.Process.Signal(syscall.SIGTERM)
			if code := waitExit(t, cmd); code != tc.wantCode {
				t.Errorf("exit status %d, want %d; output %s", code, tc.wantCode, out)
			}
		})
	}
}

func TestIntegrationConsoleReadOnly(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	// Not a terminal, no --pipe: nspawn's default is a read-only pty console.
	cmd := exec.Command(testbed.Binary(t, "berth-nspawn"), "-q", "--register=no", "-D", img, "-M", "t-cons",
		"/bin/sh", "-c", "tty; read -t 1 x || echo no-input")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdin = strings.NewReader("typed\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := string(out); got != "/dev/pts/0\r\nno-input\r\n" {
		t.Errorf("output %q, want the console pty with CRLF and no input", got)
	}
}

func TestIntegrationNoLeftovers(t *testing.T) {
	img, common := busybox(t)
	before := mountCount(t, img)
	for i := 0; i < 5; i++ {
		if r := nspawn(t, nil, append(common, "-M", "t-left", "/bin/true")...); r.code != 0 {
			t.Fatalf("run %d: status %d: %s", i, r.code, r.stderr)
		}
	}
	if left := cgroupLeftovers(t, "t-left"); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
	if after := mountCount(t, img); after != before {
		t.Errorf("host mount count %d → %d", before, after)
	}
}

// mountCount counts the host's mounts below dir.
func mountCount(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			n++
		}
	}
	return n
}

// TestIntegrationConsoleInteractive runs berth-nspawn on a terminal (made
// by script(1)): the console is interactive, input reaches the payload
// and its status passes through.
func TestIntegrationConsoleInteractive(t *testing.T) {
	testbed.RequireRoot(t)
	script := testbed.RequireTool(t, "script")
	img := testbed.BusyboxImage(t)
	inner := testbed.Binary(t, "berth-nspawn") + " -q --register=no -D " + img +
		` -M t-int /bin/sh -c 'read x; echo got:$x; exit 4'`
	cmd := exec.Command(script, "-qec", inner, "/dev/null")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=dumb"}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Input typed before the container runs waits in the terminal.
	_, _ = stdin.Write([]byte("hello\n"))
	code := waitExit(t, cmd)
	if code != 4 || !strings.Contains(out.String(), "got:hello") {
		t.Errorf("status %d, output %q; want 4 and got:hello", code, out.String())
	}
}

// TestIntegrationInheritedState checks that the payload runs with the
// timer slack and CPU affinity berth-nspawn was started with, not the
// coarse slack of its own threads or the one CPU its runtime started on,
// as PID 1 and as PID 2 under the stub init.
func TestIntegrationInheritedState(t *testing.T) {
	_, common := busybox(t)
	bin := testbed.Binary(t, "berth-nspawn")
	// The wrapper takes every online CPU it may and a slack of its own,
	// prints its CPU list, and becomes berth-nspawn.
	wrapper := `echo 70000 >/proc/self/timerslack_ns && ` +
		`taskset -pc "$(cat /sys/devices/system/cpu/online)" $$ >/dev/null 2>&1; ` +
		`grep Cpus_allowed_list /proc/self/status && exec "$@"`
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"payload as PID 1", nil},
		{"payload as PID 2", []string{"-a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"-c", wrapper, "sh", bin}, common...), "-M", "t-inherit")
			args = append(append(args, tc.flags...), "/bin/sh", "-c", "cat /proc/self/timerslack_ns; grep Cpus_allowed_list /proc/self/status")
			cmd := exec.Command("/bin/sh", args...)
			cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("berth-nspawn: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 3 {
				t.Fatalf("output %q, want the wrapper's CPU list, the payload's slack and CPU list", out)
			}
			if lines[1] != "70000" {
				t.Errorf("payload timer slack %q, want 70000 (the caller's)", lines[1])
			}
			if lines[2] != lines[0] {
				t.Errorf("payload %q, want the caller's %q", lines[2], lines[0])
			}
		})
	}
}
