package ctl

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/imagebuild"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// bed is a real berthd on a private bus with the units installed under a
// private root, and the real berthctl binary.
type bed struct {
	p   paths.Paths
	d   *testbed.Berthd
	bus *testbed.Bus
	bin string
}

func newBed(t testing.TB) *bed {
	t.Helper()
	testbed.RequireRoot(t)
	b := &bed{bus: testbed.StartBus(t), p: testbed.Paths(t), bin: testbed.Binary(t, "berthctl")}
	testbed.InstallUnits(t, b.p, b.bus.Address)
	b.d = testbed.StartBerthd(t, b.bus, b.p)
	return b
}

// image builds a busybox image called name in the pool.
func (b *bed) image(t testing.TB, name string) {
	t.Helper()
	if err := imagebuild.Busybox(filepath.Join(b.p.Pool, name)); err != nil {
		testbed.Unavailable(t, err.Error())
	}
}

// ctl runs berthctl and returns its output and exit code.
func (b *bed) ctl(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + b.bus.Address}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("berthctl %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// ok runs berthctl and fails t unless it exits 0.
func (b *bed) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := b.ctl(t, args...)
	if code != 0 {
		t.Fatalf("berthctl %v: exit %d: %s%s\nberthd: %s", args, code, out, errOut, b.d.Log())
	}
	return out
}

func randomName(prefix string) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return prefix + hex.EncodeToString(r[:])
}

// machinectl runs the real machinectl in a mount namespace where
// /run/systemd/system exists (it refuses to run otherwise).
func machinectl(t *testing.T, b *bed, args ...string) string {
	t.Helper()
	mc := testbed.RequireTool(t, "machinectl")
	script := `mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && exec "$0" "$@"`
	cmd := exec.Command("unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script, mc, "--no-pager"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + b.bus.Address, "SYSTEMD_COLORS=0", "LANG=C.UTF-8"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("machinectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestIntegrationBerthctlLifecycle sets a machine's limits, starts it with
// berthctl start, sees it in berthctl list, berthctl status and the real
// machinectl list, refuses to start it twice, reboots it (the unit
// restarts it on exit status 133), powers it off, and enables
// and disables it.
func TestIntegrationBerthctlLifecycle(t *testing.T) {
	b := newBed(t)
	name := randomName("ctl-")
	b.image(t, name)
	b.ok(t, "set", name, "MemoryMax=256M", "TasksMax=512", "Environment=A=1")
	if out := b.ok(t, "show-settings", name); !strings.Contains(out, "MemoryMax=268435456\n") ||
		!strings.Contains(out, "TasksMax=512\n") || !strings.Contains(out, "Environment=[A=1]\n") {
		t.Errorf("show-settings after set:\n%s", out)
	}
	b.ok(t, "start", name)
	eventually(t, "machine listed", func() bool { return strings.Contains(b.ok(t, "list"), name+" ") })
	if out := b.ok(t, "status", name); !strings.Contains(out, "Name="+name+"\n") || !strings.Contains(out, "Class=container\n") {
		t.Errorf("berthctl status:\n%s", out)
	}
	if out := machinectl(t, b, "list"); !strings.Contains(out, name+" container") {
		t.Errorf("machinectl list lacks %s:\n%s", name, out)
	}
	if _, errOut, code := b.ctl(t, "start", name); code != 1 || !strings.Contains(errOut, "org.freedesktop.machine1.MachineExists") {
		t.Errorf("second start: exit %d, %q", code, errOut)
	}
	before := leaderOf(b.ok(t, "status", name))
	b.ok(t, "reboot", name)
	eventually(t, "machine back with a new leader after reboot", func() bool {
		out, _, code := b.ctl(t, "status", name)
		l := leaderOf(out)
		return code == 0 && l != "" && l != before
	})
	b.ok(t, "poweroff", name)
	if out := b.ok(t, "list"); strings.Contains(out, name) {
		t.Errorf("listed after poweroff:\n%s", out)
	}

	out := b.ok(t, "enable", name)
	link := filepath.Join(b.p.UnitDir, "berth-machines.target.wants", "berth-nspawn@"+name+".service")
	if _, err := os.Lstat(link); err != nil || !strings.Contains(out, "Created symlink "+link) {
		t.Errorf("enable: %v\n%s", err, out)
	}
	out = b.ok(t, "disable", name)
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) || !strings.Contains(out, "Removed "+link) {
		t.Errorf("disable: %v\n%s", err, out)
	}
}

// leaderOf returns the Leader= value of berthctl status output.
func leaderOf(status string) string {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "Leader="); ok {
			return v
		}
	}
	return ""
}

// TestIntegrationBerthctlBadInput checks that bad input fails with exit
// status 1 and a message naming the problem.
func TestIntegrationBerthctlBadInput(t *testing.T) {
	b := newBed(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"start", "missing-image"}, "org.freedesktop.machine1.NoSuchImage"},
		{[]string{"start", "bad/name"}, "org.freedesktop.DBus.Error.InvalidArgs"},
		{[]string{"poweroff", "not-running"}, "org.freedesktop.machine1.NoSuchMachine"},
		{[]string{"enable", "missing-image"}, "org.freedesktop.machine1.NoSuchImage"},
		{[]string{"image-status", "missing-image"}, "org.freedesktop.machine1.NoSuchImage"},
		{[]string{"read-only", "x", "maybe"}, "not a boolean"},
		{[]string{"start"}, "requires at least 1 arg"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, code := b.ctl(t, tt.args...)
			if code != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut, tt.want)
			}
		})
	}
}

// TestIntegrationBerthctlImages runs the image verbs against berthd's
// image library.
func TestIntegrationBerthctlImages(t *testing.T) {
	b := newBed(t)
	b.image(t, "img-a")
	b.image(t, ".hidden")
	if out := b.ok(t, "list-images"); !strings.Contains(out, "img-a ") || strings.Contains(out, ".hidden") {
		t.Errorf("list-images:\n%s", out)
	}
	if out := b.ok(t, "image-status", "img-a"); !strings.Contains(out, "Name=img-a\n") || !strings.Contains(out, "Type=directory\n") {
		t.Errorf("image-status:\n%s", out)
	}
	b.ok(t, "clone", "img-a", "img-b")
	b.ok(t, "rename", "img-b", "img-c")
	b.ok(t, "read-only", "img-c")
	if out := b.ok(t, "image-status", "img-c"); !strings.Contains(out, "ReadOnly=true\n") {
		t.Errorf("after read-only:\n%s", out)
	}
	b.ok(t, "read-only", "img-c", "false")
	if out := b.ok(t, "image-status", "img-c"); !strings.Contains(out, "ReadOnly=false\n") {
		t.Errorf("after read-only false:\n%s", out)
	}
	b.ok(t, "remove", "img-c")
	if out := b.ok(t, "clean"); !strings.Contains(out, "Removed image '.hidden'") {
		t.Errorf("clean:\n%s", out)
	}
	if out := b.ok(t, "list-images", "--all"); strings.Contains(out, "img-c") || strings.Contains(out, ".hidden") || !strings.Contains(out, "img-a") {
		t.Errorf("list-images at the end:\n%s", out)
	}
}

// eventually polls cond until it holds, failing t after a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
