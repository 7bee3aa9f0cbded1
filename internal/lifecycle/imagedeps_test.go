package lifecycle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/testbed"
	"github.com/berth-dev/berth/internal/unitgen"
)

func TestFitImageDiskUnits(t *testing.T) {
	template := unitgen.Unit{
		Wants: []string{"modprobe@tun.service", "modprobe@loop.service", "modprobe@dm_mod.service"},
		After: []string{"network.target", "modprobe@tun.service", "modprobe@loop.service", "modprobe@dm_mod.service"},
	}
	dirLists := [2][]string{{"modprobe@tun.service"}, {"network.target", "modprobe@tun.service"}}
	all := [2][]string{template.Wants, template.After}
	for _, tt := range []struct {
		typ  images.Type
		want [2][]string
	}{
		{images.Directory, dirLists},
		{images.Subvolume, dirLists},
		{images.Raw, all},
		{images.Block, all},
	} {
		u := fitImage(template, images.Image{Type: tt.typ}, nil)
		if diff := cmp.Diff(tt.want, [2][]string{u.Wants, u.After}); diff != "" {
			t.Errorf("%s image: Wants, After (-want +got):\n%s", tt.typ, diff)
		}
	}
	if len(template.Wants) != 3 || len(template.After) != 4 {
		t.Errorf("fitImage changed the unit it was given: %+v", template)
	}
}

func TestFitImageMounts(t *testing.T) {
	// mountOf finds the deepest of a fixed list of mount points.
	mounts := []string{"/", "/proc", "/var", "/var/lib/machines", "/srv/a b"}
	mountOf := func(p string) (string, bool) {
		if strings.HasPrefix(p, "/unknown") {
			return "", false
		}
		best := "/"
		for _, m := range mounts {
			if len(m) > len(best) && (p == m || strings.HasPrefix(p, m+"/")) {
				best = m
			}
		}
		return best, true
	}
	tests := []struct {
		paths, want []string
		mountOf     func(string) (string, bool)
	}{
		{[]string{"/var/lib/machines/web"}, []string{"/var/lib/machines"}, mountOf},
		{[]string{"/var/lib/machines"}, []string{"/var/lib/machines"}, mountOf},
		{[]string{"/var/lib/machinesx/web"}, []string{"/var"}, mountOf},
		{[]string{"/usr/local/lib/machines/web"}, []string{"/"}, mountOf},
		{[]string{"/srv/a b/x", "/srv/a b/y/"}, []string{"/srv/a b"}, mountOf},
		{[]string{"/unknown/web", "/var/x"}, []string{"/unknown/web", "/var"}, mountOf}, // cannot tell: kept
		{[]string{"/var/lib/machines/web"}, []string{"/var/lib/machines/web"}, nil},     // no lookup: kept
		{nil, []string{}, mountOf},
	}
	for _, tt := range tests {
		u := fitImage(unitgen.Unit{RequiresMountsFor: tt.paths}, images.Image{Type: images.Directory}, tt.mountOf)
		if diff := cmp.Diff(tt.want, u.RequiresMountsFor); diff != "" {
			t.Errorf("RequiresMountsFor=%q (-want +got):\n%s", tt.paths, diff)
		}
	}
}

// TestMountPointOf finds mount points of real mounts: a tmpfs mounted
// below a temporary directory, and /proc through a /proc/PID/root.
func TestMountPointOf(t *testing.T) {
	testbed.RequireRoot(t)
	dir := t.TempDir()
	mnt := filepath.Join(dir, "m t")
	if err := os.MkdirAll(filepath.Join(mnt, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	if err := os.MkdirAll(filepath.Join(mnt, "b/c"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(mnt, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	parent, ok := mountPointOf("", dir)
	if !ok || parent == mnt {
		t.Fatalf("mountPointOf(%q) = %q, %v", dir, parent, ok)
	}
	for _, tt := range []struct{ root, p, want string }{
		{"", filepath.Join(mnt, "b/c"), mnt},
		{"", mnt, mnt},
		{"", filepath.Join(mnt, "missing/x"), mnt},
		{"", filepath.Join(dir, "link"), parent}, // a symlink is no mount root
		{"", filepath.Join(dir, "missing"), parent},
		{"", "/", "/"},
		{"/proc/self/root", "/proc/self", "/proc"},
		{"/proc/self/root", "/", "/"},
	} {
		if got, ok := mountPointOf(tt.root, tt.p); !ok || got != tt.want {
			t.Errorf("mountPointOf(%q, %q) = %q, %v; want %q", tt.root, tt.p, got, ok, tt.want)
		}
	}
}
