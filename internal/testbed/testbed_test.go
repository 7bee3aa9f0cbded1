package testbed

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/imagebuild"
)

func TestIntegrationBusyboxImageRunsShell(t *testing.T) {
	RequireRoot(t)
	RequireTool(t, "unshare")
	root := BusyboxImage(t)
	out, err := exec.Command("unshare", "--mount", "--pid", "--fork", "--uts",
		"chroot", root, "/bin/sh", "-c", "hostname berth-tb; echo $$; hostname; cat /etc/os-release").CombinedOutput()
	if err != nil {
		t.Fatalf("sh in busybox image: %v\n%s", err, out)
	}
	lines := strings.Split(string(out), "\n")
	if len(lines) < 3 || lines[0] != "1" || lines[1] != "berth-tb" {
		t.Errorf("want pid 1 and hostname berth-tb, got:\n%s", out)
	}
	if !strings.Contains(string(out), "ID=busybox") {
		t.Errorf("os-release missing from image:\n%s", out)
	}
	// Applet links are relative, so they resolve inside the image only.
	target, err := os.Readlink(filepath.Join(root, "usr/bin/env"))
	if err != nil || filepath.IsAbs(target) {
		t.Errorf("usr/bin/env link = %q, %v; want a relative link", target, err)
	}
}

func TestIntegrationPrivateBusAnswersBusctl(t *testing.T) {
	RequireRoot(t)
	busctl := RequireTool(t, "busctl")
	b := StartBus(t)
	if os.Getenv(SystemBusEnv) != b.Address {
		t.Fatalf("%s = %q, want %q", SystemBusEnv, os.Getenv(SystemBusEnv), b.Address)
	}
	out, err := exec.Command(busctl, "--system", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
		"org.freedesktop.DBus", "GetNameOwner", "s", "org.freedesktop.DBus").CombinedOutput()
	if err != nil {
		t.Fatalf("busctl call: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != `s "org.freedesktop.DBus"` {
		t.Errorf("busctl GetNameOwner = %q", got)
	}
	// The project policy is in force: root may own the machine1 name.
	conn := b.Conn(t)
	reply, err := conn.RequestName("org.freedesktop.machine1", 0)
	if err != nil || reply != 1 {
		t.Errorf("root RequestName(org.freedesktop.machine1) = %v, %v; want primary owner", reply, err)
	}
}

func TestIntegrationUnprivilegedCannotOwnMachine1(t *testing.T) {
	RequireRoot(t)
	RequireTool(t, "setpriv")
	busctl := RequireTool(t, "busctl")
	StartBus(t)
	// The policy lets only root own the name a machine manager answers on.
	out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		busctl, "--system", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
		"org.freedesktop.DBus", "RequestName", "su", "org.freedesktop.machine1", "0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Access denied") {
		t.Errorf("unprivileged RequestName(org.freedesktop.machine1): err=%v out=%s", err, out)
	}
}

func TestIntegrationDebianImageCached(t *testing.T) {
	RequireRoot(t)
	RequireTool(t, "debootstrap")
	first := DebianImage(t)
	st1, err := os.Stat(filepath.Join(first, "etc/os-release"))
	if err != nil {
		t.Fatal(err)
	}
	path, built, err := imagebuild.Debian{}.Ensure()
	if err != nil {
		t.Fatal(err)
	}
	if built || path != first {
		t.Errorf("second Ensure built=%v path=%s; want the cached %s reused", built, path, first)
	}
	st2, err := os.Stat(filepath.Join(path, "etc/os-release"))
	if err != nil || !os.SameFile(st1, st2) {
		t.Errorf("cached image changed between calls: %v", err)
	}
	for _, bin := range []string{"lib/systemd/systemd", "usr/bin/dbus-daemon", "bin/ip", "sbin/udhcpc"} {
		if _, err := os.Stat(filepath.Join(path, bin)); err != nil {
			t.Errorf("debian image lacks %s: %v", bin, err)
		}
	}
}

func TestIntegrationNetNSIsolated(t *testing.T) {
	n := NewNetNS(t)
	out := n.Exec(t, "ip", "-o", "link")
	if strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "lo:") {
		t.Errorf("new netns should hold only lo, got:\n%s", out)
	}
	var inside string
	if err := n.Do(func() error {
		b, err := os.Readlink("/proc/thread-self/ns/net")
		inside = b
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// /proc/self may be the main thread, which Do can have used; PID 1
	// is in the host's namespace.
	host, _ := os.Readlink("/proc/1/ns/net")
	if inside == "" || inside == host {
		t.Errorf("Do ran in %q, host is %q", inside, host)
	}
}

func TestPathsUnderTempRoot(t *testing.T) {
	p := Paths(t)
	for _, d := range append([]string{p.Pool, p.Run, p.State, p.UnitDir}, p.SettingsTrusted...) {
		if !strings.HasPrefix(d, p.Root) || p.Root == "/" {
			t.Errorf("%s is not under the temp root %s", d, p.Root)
		}
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			t.Errorf("%s not created: %v", d, err)
		}
	}
}

func TestStrictTurnsSkipIntoFailure(t *testing.T) {
	t.Setenv(StrictEnv, "1")
	if !Strict() {
		t.Fatal("Strict() false with the variable set")
	}
	t.Setenv(StrictEnv, "")
	if Strict() {
		t.Fatal("Strict() true with the variable empty")
	}
}
