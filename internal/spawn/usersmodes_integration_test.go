package spawn_test

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/google/go-cmp/cmp"
)

// TestIntegrationPrivateUsersRoot runs payloads as root of their own user
// namespace (-U), which owns the container's other namespaces: container
// root mounts, sets the hostname, is PID 1 (PID 2 under -a), may call
// setgroups, and -U works with -x and every --volatile mode. The image
// is not changed by the modes that must not write it.
func TestIntegrationPrivateUsersRoot(t *testing.T) {
	img, common := busybox(t)
	before := manifest(t, img)
	tests := []struct {
		name   string
		args   []string
		script string
		want   string
	}{
		{"mount", nil, "mount -t tmpfs tmpfs /mnt && touch /mnt/x && ls /mnt", "x"},
		{"hostname", nil, "hostname inside && hostname", "inside"},
		{"pid 1", nil, "echo $$", "1"},
		{"pid 2", []string{"-a"}, "echo $$", "2"},
		{"setgroups", nil, "cat /proc/self/setgroups", "allow"},
		{"user", []string{"-u", "daemon"}, "id -u; id -G", "1\n1"},
		{"devices", nil, "echo x > /dev/null && stat -c %u /dev/null", "0"},
		{"proc and sys read-only", nil, "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null || touch /sys/x 2>/dev/null || echo refused", "refused"},
		{"ephemeral", []string{"-x"}, "touch /e && stat -c %u /e", "0"},
		{"volatile overlay", []string{"--volatile=overlay"}, "touch /e && stat -c %u /e", "0"},
		{"volatile state", []string{"--volatile=state"}, "touch /var/v && stat -c %u /var/v; touch /e 2>/dev/null || echo ro", "0\nro"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, env := privateRoot(t)
			args := append(append(common, "-U", "--resolv-conf=off", "--timezone=off", "--link-journal=no", "-M", "t-usersroot"), tc.args...)
			r := nspawn(t, env, append(args, "/bin/sh", "-c", "cat /proc/self/uid_map; "+tc.script)...)
			lines := strings.SplitN(strings.TrimSpace(r.stdout), "\n", 2)
			if r.code != 0 || len(lines) != 2 {
				t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if rangeBase(t, lines[0]) == 0 {
				t.Errorf("uid_map %q: no user namespace", lines[0])
			}
			if lines[1] != tc.want {
				t.Errorf("output %q, want %q", lines[1], tc.want)
			}
		})
	}
	if diff := cmp.Diff(before, manifest(t, img)); diff != "" {
		t.Errorf("the image changed (-before +after):\n%s", diff)
	}
}

// TestIntegrationNetNSPathSys joins an existing network namespace
// (--network-namespace-path), privileged and with -U, with and without
// --private-network: /sys shows that namespace's links, whose sysfs the
// spawner mounts from inside it as host root (a user namespace may not
// mount the sysfs of a network namespace it does not own).
func TestIntegrationNetNSPathSys(t *testing.T) {
	_, common := busybox(t)
	ns := testbed.NewNetNS(t)
	ns.Exec(t, "ip", "link", "add", "berthv0", "type", "veth", "peer", "name", "berthv1")
	tests := []struct {
		name string
		args []string
	}{
		{"privileged", nil},
		{"private users", []string{"-U"}},
		{"private users and network", []string{"-U", "--private-network"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, env := privateRoot(t)
			args := append(append(common, "-M", "t-netnspath", "--network-namespace-path="+ns.Path), tc.args...)
			r := nspawn(t, env, append(args, "/bin/ls", "/sys/class/net")...)
			if r.code != 0 || r.stdout != "berthv0\nberthv1\nlo\n" {
				t.Errorf("exit %d, stdout %q, stderr %q; want the namespace's links", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestIntegrationPrivateUsersReboot reboots and powers off from inside a
// -U container: its root holds CAP_SYS_BOOT over its PID namespace, so
// reboot(2) ends PID 1 as a reboot (the spawner starts the container
// again) or a power-off.
func TestIntegrationPrivateUsersReboot(t *testing.T) {
	_, common := busybox(t)
	_, env := privateRoot(t)
	state := t.TempDir()
	if err := os.Chmod(state, 0o777); err != nil { // a plain bind: container root is "others"
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		script string
		want   int
	}{
		{"reboot starts again", "test -e /state/booted && exit 7; touch /state/booted; reboot -f", 7},
		{"poweroff", "poweroff -f", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append(common, "-U", "-M", "t-usersreboot", "--bind="+state+":/state"), "/bin/sh", "-c", tc.script)
			if r := nspawn(t, env, args...); r.code != tc.want {
				t.Errorf("exit %d, want %d; stderr %q", r.code, tc.want, r.stderr)
			}
		})
	}
}

// TestIntegrationPrivateUsersNothingLeft fails -U starts at each side of
// the user namespace (a bind source that is not there, found while the
// spawner prepares the tree as host root; a command that is not there,
// found by the stage inside): each fails with one clear line and leaves no
// mount on the host, no staging directory, no cgroup, and the range free
// for the next start.
func TestIntegrationPrivateUsersNothingLeft(t *testing.T) {
	img, common := busybox(t)
	p, env := privateRoot(t)
	before := hostMounts(t, img, p.Root)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"host side", []string{"--bind=/nonexistent-berth-source:/mnt", "/bin/true"}, "/nonexistent-berth-source"},
		{"inside", []string{"/no/such/command"}, "/no/such/command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append(common, "-U", "-M", "t-usersleft"), tc.args...)
			r := nspawn(t, env, args...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want 1 and one line naming %s", r.code, r.stderr, tc.want)
			}
		})
	}
	if diff := cmp.Diff(before, hostMounts(t, img, p.Root)); diff != "" {
		t.Errorf("host mounts changed (-before +after):\n%s", diff)
	}
	if left, _ := filepath.Glob(filepath.Join(p.Run, "staging", "*")); len(left) > 0 {
		t.Errorf("staging directories left: %v", left)
	}
	if left := cgroupLeftovers(t, "t-usersleft"); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
	r := nspawn(t, env, append(common, "-U", "-M", "t-usersleft", "/bin/true")...)
	if r.code != 0 {
		t.Errorf("a start after the failures: exit %d, stderr %q", r.code, r.stderr)
	}
}

// hostMounts lists the mount points of the host's mount namespace below
// the directories dirs, minus the propagation directory berth-nspawn
// shares on purpose.
func hostMounts(t *testing.T, dirs ...string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || strings.Contains(f[4], "/run/berth/propagate") {
			continue
		}
		for _, d := range dirs {
			if strings.HasPrefix(f[4], d) {
				out = append(out, f[4])
			}
		}
	}
	return out
}

// TestIntegrationPrivateUsersIdentity runs --private-users=identity: a user
// namespace of its own whose IDs are the host's, so root inside may mount
// and set the hostname while files keep their host owners.
func TestIntegrationPrivateUsersIdentity(t *testing.T) {
	_, common := busybox(t)
	_, env := privateRoot(t)
	args := append(common, "-M", "t-usersidentity", "--private-users=identity", "/bin/sh", "-c",
		"cat /proc/self/uid_map; mount -t tmpfs tmpfs /mnt && hostname inside && hostname")
	r := nspawn(t, env, args...)
	lines := strings.Fields(r.stdout)
	if diff := cmp.Diff([]string{"0", "0", "65536", "inside"}, lines); r.code != 0 || diff != "" {
		t.Errorf("exit %d, stderr %q, output (-want +got):\n%s", r.code, r.stderr, diff)
	}
}

// TestIntegrationPrivateUsersOwnershipOff runs a fixed range over an image
// left owned by host IDs (--private-users-ownership=off): container root
// may not write the image, so the spawner creates the mount point of a
// bind as host root instead.
func TestIntegrationPrivateUsersOwnershipOff(t *testing.T) {
	img, common := busybox(t)
	_, env := privateRoot(t)
	args := append(common, "-M", "t-usersoff", "--private-users=1610612736", "--private-users-ownership=off",
		"--link-journal=no", "--resolv-conf=off", "--timezone=off", "--bind-ro="+t.TempDir()+":/newdir",
		"/bin/sh", "-c", "stat -c %u / && ls -d /newdir")
	r := nspawn(t, env, args...)
	if r.code != 0 || r.stdout != "65534\n/newdir\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(img, "newdir")); err != nil {
		t.Errorf("mount point: %v", err)
	}
}

// TestIntegrationPrivateUsersVolatileYes runs -U --volatile=yes on the
// Debian image: a tmpfs root owned by container root with the image's
// /usr, idmapped, bound in read-only.
func TestIntegrationPrivateUsersVolatileYes(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.DebianImage(t)
	_, env := privateRoot(t)
	r := nspawn(t, env, "-q", "--pipe", "--register=no", "-D", img, "-M", "t-usersvolyes", "-U", "--volatile=yes",
		"/bin/sh", "-c", "touch /x && stat -c %u /x /usr/bin/env; touch /usr/x 2>/dev/null || echo usr-ro")
	if diff := cmp.Diff("0\n0\nusr-ro\n", r.stdout); r.code != 0 || diff != "" {
		t.Errorf("exit %d, stderr %q, output (-want +got):\n%s", r.code, r.stderr, diff)
	}
}

// TestIntegrationPrivateUsersRawImage runs a raw ext4 image (-i) with -U:
// the loop-mounted file system is idmapped onto the range.
func TestIntegrationPrivateUsersRawImage(t *testing.T) {
	testbed.RequireRoot(t)
	mkfs := testbed.RequireTool(t, "mkfs.ext4")
	raw := filepath.Join(t.TempDir(), "img.raw")
	if out, err := exec.Command(mkfs, "-q", "-d", testbed.BusyboxImage(t), raw, "64M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v: %s", err, out)
	}
	_, env := privateRoot(t)
	for _, tc := range []struct{ script, want string }{
		{"echo kept > /kept; stat -c %u /kept", "0\n"},
		{"cat /kept", "kept\n"},
	} {
		r := nspawn(t, env, "-q", "--pipe", "--register=no", "-i", raw, "-M", "t-usersraw", "-U",
			"--resolv-conf=off", "--timezone=off", "/bin/sh", "-c", tc.script)
		if r.code != 0 || r.stdout != tc.want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q", tc.script, r.code, r.stdout, r.stderr, tc.want)
		}
	}
}

// TestIntegrationPrivateUsersConcurrentRanges starts 50 -U machines at
// once through berth-nspawn, all running until told to stop: they get 50
// different (so, being 64Ki-aligned 64Ki ranges, disjoint) UID ranges.
// One of them started again gets its range back.
func TestIntegrationPrivateUsersConcurrentRanges(t *testing.T) {
	_, common := busybox(t)
	_, env := privateRoot(t)
	gate := t.TempDir()
	const n = 50
	args := func(i int) []string {
		return append(append([]string{}, common...), "-M", "t-range"+strconv.Itoa(i), "-U", "--read-only",
			"--private-users-ownership=map", "--bind-ro="+gate+":/gate", "/bin/sh", "-c",
			"cat /proc/self/uid_map; while [ ! -e /gate/go ]; do sleep 0.1; done")
	}
	bases := make([]uint32, n)
	runs := make([]*running, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i] = startRunning(t, env, args(i)...)
		}()
	}
	wg.Wait()
	seen := map[uint32]int{}
	for i, r := range runs {
		bases[i] = r.rangeBase(t)
		if j, dup := seen[bases[i]]; dup {
			t.Errorf("machines %d and %d share the range at %d", j, i, bases[i])
		}
		seen[bases[i]] = i
	}
	writeFile(t, filepath.Join(gate, "go"), "")
	for i, r := range runs {
		if code := waitExit(t, r.cmd); code != 0 {
			t.Errorf("machine %d: exit %d", i, code)
		}
	}
	again := startRunning(t, env, args(7)...)
	if got := again.rangeBase(t); got != bases[7] {
		t.Errorf("restarted machine got range %d, want its range %d back", got, bases[7])
	}
	if code := waitExit(t, again.cmd); code != 0 {
		t.Errorf("restart: exit %d", code)
	}
}

// running is a berth-nspawn whose first output line is read as it comes.
type running struct {
	cmd    *exec.Cmd
	first  chan string
	stderr string // a file
}

// startRunning starts berth-nspawn with env and args and reads the first
// line of its output.
func startRunning(t *testing.T, env []string, args ...string) *running {
	t.Helper()
	cmd := exec.Command(testbed.Binary(t, "berth-nspawn"), args...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Error(err)
		return nil
	}
	stderr, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Error(err)
		return nil
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Error(err)
		return nil
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	r := &running{cmd: cmd, first: make(chan string, 1), stderr: stderr.Name()}
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		r.first <- line
		_, _ = io.Copy(io.Discard, out)
	}()
	return r
}

// rangeBase returns the host base of the machine's uid_map, its first line.
func (r *running) rangeBase(t *testing.T) uint32 {
	t.Helper()
	if r == nil {
		t.Fatal("machine did not start")
	}
	select {
	case line := <-r.first:
		if line == "" {
			msg, _ := os.ReadFile(r.stderr)
			t.Fatalf("machine ended without output: %s", msg)
		}
		return rangeBase(t, line)
	case <-time.After(runTimeout):
		t.Fatal("no uid_map from the machine")
		return 0
	}
}
