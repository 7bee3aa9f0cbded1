package spawn_test

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationBoot boots the Debian image with -b, privileged on a
// throw-away layer (-x) and as an unprivileged container (-U, on a private
// copy with an idmapped root, the managed template's way), waits for the
// guest's own READY=1 (--notify-ready=yes), asks systemctl inside whether
// the system is running, and powers it off with SIGTERM (forwarded as
// SIGRTMIN+3).
func TestIntegrationBoot(t *testing.T) {
	testbed.RequireRoot(t)
	testbed.RequireTool(t, "nsenter")
	tests := []struct {
		name  string
		image func(testing.TB) string
		args  []string
	}{
		{"privileged ephemeral", testbed.DebianImage, []string{"-x"}},
		{"private users", testbed.CloneDebianImage, []string{"-U"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, env := privateRoot(t)
			sock, ready := notifySocket(t)
			args := append([]string{"--register=no", "-D", tc.image(t), "-M", "t-boot", "-b", "--notify-ready=yes"}, tc.args...)
			cmd, out := startNspawn(t, append(env, "NOTIFY_SOCKET="+sock), args...)
			msg := recvNotify(t, ready, cmd, out)
			if !strings.Contains(msg, "READY=1") {
				t.Fatalf("notify message %q", msg)
			}
			leader := strings.TrimSpace(msg[strings.Index(msg, "X_NSPAWN_LEADER_PID=")+len("X_NSPAWN_LEADER_PID="):])
			if _, err := strconv.Atoi(leader); err != nil {
				t.Fatalf("bad leader PID in %q", msg)
			}
			systemRunning(t, leader)
			start := time.Now()
			_ = cmd.Process.Signal(syscall.SIGTERM)
			if code := waitExit(t, cmd); code != 0 {
				t.Errorf("exit status %d after SIGTERM, want 0 (clean poweroff)\n%s", code, out)
			}
			t.Logf("powered off in %v", time.Since(start))
			if !strings.Contains(out.String(), "has been shut down") {
				t.Errorf("no shutdown message in the output:\n%s", out)
			}
			if left := cgroupLeftovers(t, "t-boot"); len(left) > 0 {
				t.Errorf("cgroups left: %v", left)
			}
		})
	}
}

// systemRunning asks the guest's systemd, through the leader's
// namespaces, to wait until the system is up, and fails t unless it is
// running.
func systemRunning(t *testing.T, leader string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	state, _ := exec.CommandContext(ctx, "nsenter", "-t", leader, "-a",
		"systemctl", "is-system-running", "--wait").Output()
	if got := strings.TrimSpace(string(state)); got != "running" {
		failed, _ := exec.Command("nsenter", "-t", leader, "-a", "systemctl", "--failed", "--no-pager").CombinedOutput()
		t.Errorf("is-system-running = %q, want running\n%s", got, failed)
	}
}

// TestIntegrationVolatileYes runs a command of the Debian image on a
// tmpfs root with only the image's /usr (--volatile=yes): the base file
// system links make the dynamic loader and /bin reachable.
func TestIntegrationVolatileYes(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.DebianImage(t)
	r := nspawn(t, nil, "-q", "--pipe", "--register=no", "-D", img, "-M", "t-volyes", "--volatile=yes",
		"/bin/sh", "-c", "readlink /bin /lib64; touch /x /usr/x 2>/dev/null || echo usr-ro; ls /etc | wc -l")
	want := "usr/bin\nusr/lib/x86_64-linux-gnu\nusr-ro\n"
	if r.code != 0 || !strings.HasPrefix(r.stdout, want) {
		t.Errorf("status %d, output %q, stderr %q; want prefix %q", r.code, r.stdout, r.stderr, want)
	}
}
