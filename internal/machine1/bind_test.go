package machine1_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationMachinectlBind runs the real machinectl bind into a
// running busybox container: plain, --mkdir, --read-only, and through a
// container symlink that points at a host directory (which must stay
// untouched).
func TestIntegrationMachinectlBind(t *testing.T) {
	testbed.RequireRoot(t)
	image := testbed.BusyboxImage(t)
	host := t.TempDir()
	src := filepath.Join(host, "src")
	target := filepath.Join(host, "target")
	for _, d := range []string{src, target, filepath.Join(image, "mnt")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("bound-content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(image, "evil")); err != nil {
		t.Fatal(err)
	}
	bus := testbed.StartBus(t)
	startBerthd(t, bus, t.TempDir())
	startNspawn(t, bus, image, "binder", "/bin/sleep", "1000000")

	mustMachinectl(t, "bind", "--mkdir", "binder", src, "/mnt/rw")
	if out := mustMachinectl(t, "shell", "binder", "/bin/sh", "-c", "cat /mnt/rw/f && echo new > /mnt/rw/g && echo wrote"); !strings.Contains(out, "bound-content") || !strings.Contains(out, "wrote") {
		t.Errorf("read-write bind:\n%s", out)
	}
	if data, _ := os.ReadFile(filepath.Join(src, "g")); string(data) != "new\n" {
		t.Errorf("write through the bind reached the host as %q", data)
	}
	mustMachinectl(t, "bind", "--mkdir", "--read-only", "binder", src, "/mnt/ro")
	if out := mustMachinectl(t, "shell", "binder", "/bin/sh", "-c", "echo x > /mnt/ro/h || echo refused"); !strings.Contains(out, "refused") {
		t.Errorf("read-only bind was writable:\n%s", out)
	}
	if out, err := machinectl(t, "bind", "binder", src, "/mnt/missing"); err == nil {
		t.Errorf("bind without --mkdir onto a missing directory succeeded:\n%s", out)
	}
	_, _ = machinectl(t, "bind", "--mkdir", "binder", src, "/evil/x")
	if ents, _ := os.ReadDir(target); len(ents) != 0 {
		t.Errorf("bind through a container symlink created %v on the host", ents)
	}
	if out, err := machinectl(t, "bind", "binder", "relative", "/mnt/x"); err == nil {
		t.Errorf("bind of a relative source succeeded:\n%s", out)
	}
}
