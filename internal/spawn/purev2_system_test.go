package spawn_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
	"golang.org/x/sys/unix"
)

// Inside the pure cgroup v2 test host: the marker, and where the host
// finds berth-nspawn and the guest image.
const (
	pureV2Env   = "BERTH_SPAWN_PURE_V2"
	pureV2Bin   = "/usr/local/bin/berth-nspawn"
	pureV2Guest = "/guest"
)

// TestSystemBootPureV2 boots a systemd guest with berth-nspawn -b on a
// pure cgroup v2 host, as most real hosts are (this VM is hybrid): this
// test binary runs again in a Debian container that systemd-nspawn gives
// only the unified hierarchy (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1, the
// approach of internal/supervisor's TestSystemPureV2), and there starts a
// second Debian image with berth-nspawn -b, waits for the guest's READY=1,
// asks systemctl inside whether the system is running, and powers it off.
func TestSystemBootPureV2(t *testing.T) {
	testbed.RequireRoot(t)
	if os.Getenv(pureV2Env) != "" {
		bootOnPureV2(t)
		return
	}
	host, guest := testbed.CloneDebianImage(t), testbed.CloneDebianImage(t)
	testbed.CopyFile(t, testbed.Binary(t, "berth-nspawn"), filepath.Join(host, pureV2Bin))
	testbed.RunTestInPureV2(t, host, pureV2Env, "^TestSystemBootPureV2$", "--bind="+guest+":"+pureV2Guest)
}

// bootOnPureV2 is the part that runs in the pure cgroup v2 host.
func bootOnPureV2(t *testing.T) {
	var fs unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &fs); err != nil || fs.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Fatalf("/sys/fs/cgroup is not cgroup2 here (%v, type %#x)", err, fs.Type)
	}
	if _, err := os.Stat("/sys/fs/cgroup/unified"); err == nil {
		t.Fatal("a hybrid layout, not pure cgroup v2")
	}
	sock, ready := notifySocket(t)
	cmd := exec.Command(pureV2Bin, "--register=no", "-D", pureV2Guest, "-M", "t-v2boot", "-b", "--notify-ready=yes")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "NOTIFY_SOCKET=" + sock}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	msg := recvNotify(t, ready, cmd, &out)
	i := strings.Index(msg, "X_NSPAWN_LEADER_PID=")
	if !strings.Contains(msg, "READY=1") || i < 0 {
		t.Fatalf("notify message %q", msg)
	}
	leader := strings.TrimSpace(msg[i+len("X_NSPAWN_LEADER_PID="):])
	if _, err := strconv.Atoi(leader); err != nil {
		t.Fatalf("bad leader PID in %q", msg)
	}
	systemRunning(t, leader)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, cmd); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0 (clean poweroff)\n%s", code, &out)
	}
}
