package machine1_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationMachinectlImages drives the image library through berthd
// with the real machinectl: list-images, image-status, show-image, clone,
// rename, read-only, remove and clean.
func TestIntegrationMachinectlImages(t *testing.T) {
	testbed.RequireRoot(t)
	root := t.TempDir()
	p := paths.Under(root)
	for _, d := range []string{filepath.Join(p.Pool, "img1/etc"), filepath.Join(p.Pool, ".hidden"), filepath.Join(p.ImageDirs[0], "img1/etc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(p.Pool, "img1/etc/os-release"):       "ID=testos\nVERSION_ID=7\nPRETTY_NAME=\"Test OS 7\"\n",
		filepath.Join(p.ImageDirs[0], "img1/etc/hostname"): "first-host\n",
		filepath.Join(p.Pool, "disk.raw"):                  strings.Repeat("x", 8192),
		filepath.Join(p.Pool, "notanimage.txt"):            "",
	}
	for f, data := range files {
		if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bus := testbed.StartBus(t)
	startBerthd(t, bus, root)

	out := mustMachinectl(t, "list-images", "--no-legend")
	var got [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		got = append(got, strings.Fields(line)[:3])
	}
	want := [][]string{{"disk", "raw", "no"}, {"img1", "directory", "no"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("machinectl list-images (-want +got):\n%s\n%s", diff, out)
	}
	if out := mustMachinectl(t, "list-images", "-a"); !strings.Contains(out, ".hidden") {
		t.Errorf("list-images -a lacks .hidden:\n%s", out)
	}
	out = mustMachinectl(t, "show-image", "img1")
	for _, w := range []string{"Name=img1", "Type=directory", "Path=" + filepath.Join(p.ImageDirs[0], "img1"), "ReadOnly=no"} {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("show-image lacks %q (first image directory wins):\n%s", w, out)
		}
	}
	if out, err := machinectl(t, "image-status", "img1"); err != nil || !strings.Contains(out, "Hostname: first-host") {
		t.Errorf("image-status img1: %v\n%s", err, out)
	}
	if out, err := machinectl(t, "image-status", "disk"); err != nil || !strings.Contains(out, "disk") {
		t.Errorf("image-status disk: %v\n%s", err, out)
	}
	if out, err := machinectl(t, "image-status", "nosuch"); err == nil {
		t.Errorf("image-status of an unknown image succeeded:\n%s", out)
	}
	mustMachinectl(t, "clone", "img1", "copy1")
	if _, err := os.Stat(filepath.Join(p.Pool, "copy1/etc/hostname")); err != nil {
		t.Errorf("clone did not copy the image: %v", err)
	}
	mustMachinectl(t, "rename", "copy1", "copy2")
	mustMachinectl(t, "read-only", "copy2")
	if out := mustMachinectl(t, "show-image", "-p", "ReadOnly", "--value", "copy2"); strings.TrimSpace(out) != "yes" {
		t.Errorf("copy2 ReadOnly = %q after read-only", out)
	}
	mustMachinectl(t, "read-only", "copy2", "false")
	mustMachinectl(t, "remove", "copy2")
	if out, err := machinectl(t, "clone", "img1", "disk"); err == nil {
		t.Errorf("clone onto an existing name succeeded:\n%s", out)
	}
	mustMachinectl(t, "clean")
	out = mustMachinectl(t, "list-images", "-a", "--no-legend")
	if strings.Contains(out, ".hidden") || strings.Contains(out, "copy") || !strings.Contains(out, "img1") {
		t.Errorf("after clean (hidden only):\n%s", out)
	}
}
