package spawn_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// hostMarker makes a host directory with one file and returns the
// directory; untouched checks it still holds exactly that file.
func hostMarker(t *testing.T) (string, func(t *testing.T)) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "marker"), "host\n")
	return dir, func(t *testing.T) {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if diff := cmp.Diff([]string{"marker"}, names); diff != "" {
			t.Errorf("host directory changed (-want +got):\n%s", diff)
		}
		if data, _ := os.ReadFile(filepath.Join(dir, "marker")); string(data) != "host\n" {
			t.Errorf("host file changed: %q", data)
		}
		if mountedBelow(dir) {
			t.Errorf("something is mounted below the host directory %s", dir)
		}
	}
}

// mountedBelow reports whether the host has a mount at or below dir.
func mountedBelow(dir string) bool {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			return true
		}
	}
	return false
}

// replaceWithSymlink replaces img/rel with a symlink to target.
func replaceWithSymlink(t *testing.T, img, rel, target string) {
	t.Helper()
	p := filepath.Join(img, rel)
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationEscapeSymlinkedAPI is hardening case 24: symlinked API
// directories and device nodes in the image make the start fail, and the
// host paths they point at stay untouched.
func TestIntegrationEscapeSymlinkedAPI(t *testing.T) {
	for _, rel := range []string{"proc", "sys", "dev", "run", "tmp", "dev/null", "dev/console", "dev/pts"} {
		t.Run(rel, func(t *testing.T) {
			img, common := busybox(t)
			dir, untouched := hostMarker(t)
			target := dir
			if strings.HasPrefix(rel, "dev/") && rel != "dev/pts" {
				target = filepath.Join(dir, "marker")
			}
			replaceWithSymlink(t, img, rel, target)
			r := nspawn(t, nil, append(common, "-M", "t-esc", "/bin/true")...)
			if r.code != 1 || !strings.Contains(r.stderr, "refusing a symlink") {
				t.Errorf("status %d, stderr %q; want 1 and a refusal", r.code, r.stderr)
			}
			untouched(t)
		})
	}
	if left := cgroupLeftovers(t, "t-esc"); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
}

// TestIntegrationEscapeBindTargets is hardening case 25: bind targets
// through symlinks in the image resolve inside the root.
func TestIntegrationEscapeBindTargets(t *testing.T) {
	tests := []struct {
		name, link, target, dest, check string
		// refused: the link leads nowhere inside the root, so the
		// start fails rather than create anything.
		refused bool
	}{
		{"absolute directory link", "var/run", "/run", "/var/run/x", "/run/x", false},
		{"relative link climbing out", "a/b", "../../../../../etc", "/a/b/x", "/etc/x", false},
		{"relative link to a host path", "a/b", "../../../HOST", "/a/b/x", "", true},
		{"symlink as the last component", "c", "HOST/x", "/c", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, common := busybox(t)
			host, untouched := hostMarker(t)
			target := strings.ReplaceAll(tc.target, "HOST", host)
			replaceWithSymlink(t, img, tc.link, target)
			src := hostDir(t, "f", "bound\n")
			r := nspawn(t, nil, append(common, "-M", "t-escb", "--bind-ro="+src+":"+tc.dest,
				"/bin/cat", tc.check+"/f")...)
			switch {
			case tc.refused && r.code != 1:
				t.Errorf("status %d, output %q; want a refusal", r.code, r.stdout)
			case !tc.refused && (r.code != 0 || strings.TrimSpace(r.stdout) != "bound"):
				t.Errorf("status %d, output %q, stderr %q; want the bind inside the root", r.code, r.stdout, r.stderr)
			}
			untouched(t)
			if _, err := os.Stat(filepath.Join(host, "x")); err == nil {
				t.Errorf("%s/x was created on the host", host)
			}
		})
	}
}

// TestIntegrationEscapeFakeProc is hardening case 27: a fake procfs over
// /proc is detected by fstatfs and the start fails.
func TestIntegrationEscapeFakeProc(t *testing.T) {
	_, common := busybox(t)
	fake := hostDir(t, "self/attr/exec", "")
	r := nspawn(t, nil, append(common, "-M", "t-fake", "--bind="+fake+":/proc", "/bin/true")...)
	if r.code != 1 || !strings.Contains(r.stderr, "/proc is not the expected file system") {
		t.Errorf("status %d, stderr %q; want a refusal", r.code, r.stderr)
	}
}

// TestIntegrationEscapeInitState is hardening case 28, seen from the host:
// the container's init has only fds 0-2, its cwd is the container root and
// its environment is exactly the configured one.
func TestIntegrationEscapeInitState(t *testing.T) {
	img, common := busybox(t)
	cmd, out := startNspawn(t, []string{"TERM=dumb", "SECRET=host-only"}, append(common, "-M", "t-state", "-E", "A=b", "/bin/sleep", "100")...)
	pid := containerInit(t, cmd)
	fds, _ := os.ReadDir("/proc/" + pid + "/fd")
	var names []string
	for _, f := range fds {
		names = append(names, f.Name())
	}
	if diff := cmp.Diff([]string{"0", "1", "2"}, names); diff != "" {
		t.Errorf("init fds (-want +got):\n%s", diff)
	}
	var cwd, root syscall.Stat_t
	if err := syscall.Stat("/proc/"+pid+"/cwd", &cwd); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(img, &root); err != nil {
		t.Fatal(err)
	}
	if cwd.Dev != root.Dev || cwd.Ino != root.Ino {
		t.Errorf("init cwd is not the image root")
	}
	environ, _ := os.ReadFile("/proc/" + pid + "/environ")
	var env []string
	for _, e := range strings.Split(strings.TrimRight(string(environ), "\x00"), "\x00") {
		n, _, _ := strings.Cut(e, "=")
		env = append(env, n)
	}
	sort.Strings(env)
	want := []string{"A", "HOME", "LANG", "LOGNAME", "NOTIFY_SOCKET", "PATH", "TERM", "USER", "container", "container_host_id", "container_host_version_id", "container_uuid"}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("init environment (-want +got):\n%s", diff)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, cmd); code != 1 {
		t.Errorf("exit status %d after SIGTERM, want 1; output %s", code, out)
	}
}

// containerInit waits for the container's PID 1 (the spawner's child)
// to run its payload and returns its host PID.
func containerInit(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	deadline := time.Now().Add(runTimeout)
	for time.Now().Before(deadline) {
		out, _ := exec.Command("pgrep", "-P", strconv.Itoa(cmd.Process.Pid)).Output()
		if pid := strings.TrimSpace(string(out)); pid != "" {
			if comm, _ := os.ReadFile("/proc/" + pid + "/comm"); bytes.HasPrefix(comm, []byte("sleep")) {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the container's init never ran its payload")
	return ""
}

// TestIntegrationEscapeInitFails is hardening case 32: an init that exits
// at once or is missing ends cleanly, leaving no cgroup or mount behind.
func TestIntegrationEscapeInitFails(t *testing.T) {
	tests := []struct {
		name     string
		init     string
		wantCode int
	}{
		{"init exits at once", "#!/bin/sh\nexit 0\n", 0},
		{"init fails at once", "#!/bin/sh\nexit 5\n", 5},
		{"init missing", "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, common := busybox(t)
			os.Remove(filepath.Join(img, "sbin/init"))
			if tc.init != "" {
				writeFile(t, filepath.Join(img, "sbin/init"), tc.init)
				os.Chmod(filepath.Join(img, "sbin/init"), 0o755)
			}
			before := mountCount(t, img)
			r := nspawn(t, nil, append(common, "-M", "t-initf", "-b")...)
			if r.code != tc.wantCode {
				t.Errorf("status %d, want %d; stderr %q", r.code, tc.wantCode, r.stderr)
			}
			if after := mountCount(t, img); after != before {
				t.Errorf("mounts below the image %d → %d", before, after)
			}
			if left := cgroupLeftovers(t, "t-initf"); len(left) > 0 {
				t.Errorf("cgroups left: %v", left)
			}
		})
	}
}
