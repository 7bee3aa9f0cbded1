package machine1_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationMachinectlCopy runs the real machinectl copy-to and
// copy-from against a busybox container, including the container's
// hostile symlinks (checklist B.11, B.12, B.14).
func TestIntegrationMachinectlCopy(t *testing.T) {
	testbed.RequireRoot(t)
	image := testbed.BusyboxImage(t)
	host := t.TempDir()
	write := func(p, data string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(host, "in.txt"), "from-the-host\n")
	write(filepath.Join(image, "out.txt"), "from-the-container\n")
	target := filepath.Join(host, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	for link, to := range map[string]string{"abs": target, "up": "../../../../../../../../" + target, "shadow": "/etc/shadow"} {
		if err := os.Symlink(to, filepath.Join(image, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(image, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	bus := testbed.StartBus(t)
	startBerthd(t, bus, t.TempDir())
	startNspawn(t, bus, image, "copier", "/bin/sleep", "1000000")

	mustMachinectl(t, "copy-to", "copier", filepath.Join(host, "in.txt"), "/in.txt")
	if data, _ := os.ReadFile(filepath.Join(image, "in.txt")); string(data) != "from-the-host\n" {
		t.Errorf("copy-to wrote %q", data)
	}
	if out, err := machinectl(t, "copy-to", "copier", filepath.Join(host, "in.txt"), "/out.txt"); err == nil {
		t.Errorf("copy-to onto an existing file succeeded:\n%s", out)
	}
	mustMachinectl(t, "copy-to", "--force", "copier", filepath.Join(host, "in.txt"), "/out.txt")
	mustMachinectl(t, "copy-from", "copier", "/in.txt", filepath.Join(host, "back.txt"))
	if data, _ := os.ReadFile(filepath.Join(host, "back.txt")); string(data) != "from-the-host\n" {
		t.Errorf("copy-from wrote %q", data)
	}
	for _, dst := range []string{"/abs/pwned", "/up/pwned"} {
		_, _ = machinectl(t, "copy-to", "copier", filepath.Join(host, "in.txt"), dst)
	}
	if ents, _ := os.ReadDir(target); len(ents) != 0 {
		t.Errorf("a copy through a container symlink wrote on the host: %v", ents)
	}
	mustMachinectl(t, "copy-from", "copier", "/shadow", filepath.Join(host, "shadow"))
	if to, err := os.Readlink(filepath.Join(host, "shadow")); err != nil || to != "/etc/shadow" {
		t.Errorf("copy-from of a symlink = %q, %v; want the symlink itself", to, err)
	}
	mustMachinectl(t, "copy-from", "copier", "/fifo", filepath.Join(host, "fifo"))
	conn := bus.Conn(t)
	var fd dbus.UnixFD
	if err := conn.Object(busName, "/org/freedesktop/machine1").Call(mgr+"OpenMachineRootDirectory", 0, "copier").Store(&fd); err != nil {
		t.Fatal(err)
	}
	root := os.NewFile(uintptr(fd), "root")
	names, err := root.Readdirnames(-1)
	root.Close()
	if err != nil || !slices.Contains(names, "in.txt") || !slices.Contains(names, "bin") {
		t.Errorf("OpenMachineRootDirectory lists %v, %v", names, err)
	}
	for _, bad := range [][]string{{"copier", "relative", "/x"}, {"copier", "/a/../b", "/x"}, {".host", "/etc/hostname", "/x"}} {
		if out, err := machinectl(t, append([]string{"copy-to"}, bad...)...); err == nil {
			t.Errorf("copy-to %s succeeded:\n%s", strings.Join(bad, " "), out)
		}
	}
}
