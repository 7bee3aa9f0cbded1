package lifecycle

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/images"
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
	mounts := []string{"/", "/proc", "/var", "/var/lib/machines", "/srv/a b"}
	tests := []struct {
		paths, mounts, want []string
	}{
		{[]string{"/var/lib/machines/web"}, mounts, []string{"/var/lib/machines"}},
		{[]string{"/var/lib/machines"}, mounts, []string{"/var/lib/machines"}},
		{[]string{"/var/lib/machinesx/web"}, mounts, []string{"/var"}},
		{[]string{"/usr/local/lib/machines/web"}, mounts, []string{"/"}},
		{[]string{"/srv/a b/x", "/srv/a b/y/"}, mounts, []string{"/srv/a b"}},
		{[]string{"/var/lib/machines/web"}, nil, []string{"/var/lib/machines/web"}}, // no table: kept
		{nil, mounts, []string{}},
	}
	for _, tt := range tests {
		u := fitImage(unitgen.Unit{RequiresMountsFor: tt.paths}, images.Image{Type: images.Directory}, tt.mounts)
		if diff := cmp.Diff(tt.want, u.RequiresMountsFor); diff != "" {
			t.Errorf("RequiresMountsFor=%q with mounts %q (-want +got):\n%s", tt.paths, tt.mounts, diff)
		}
	}
}

func TestMountPoints(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mountinfo")
	table := "21 26 0:20 / /proc rw,relatime - proc proc rw\n" +
		"26 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n" +
		"40 26 8:2 / /srv/a\\040b rw - ext4 /dev/sda2 rw\n" +
		"41 26 8:3 / /odd\\134x\\0 rw - ext4 /dev/sda3 rw\n" +
		"short line\n"
	if err := os.WriteFile(file, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{"/proc", "/", "/srv/a b", `/odd\x\0`}
	if diff := cmp.Diff(want, mountPoints(file)); diff != "" {
		t.Errorf("mountPoints (-want +got):\n%s", diff)
	}
	if got := mountPoints(filepath.Join(t.TempDir(), "missing")); got != nil {
		t.Errorf("mountPoints of a missing file = %q, want nil", got)
	}
	if got := mountPoints(systemdMounts); !slices.Contains(got, "/") {
		t.Errorf("PID 1's mount points %q lack /", got)
	}
}
