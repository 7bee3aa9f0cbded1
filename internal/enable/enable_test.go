package enable

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

const (
	tmplPath   = "/usr/local/lib/systemd/system/berth-nspawn@.service"
	targetPath = "/usr/local/lib/systemd/system/berth-machines.target"
)

// setup returns a private layout with the units installed and images
// "web" (a directory) and "db" (a raw file).
func setup(t *testing.T) paths.Paths {
	t.Helper()
	p := testbed.Paths(t)
	for _, full := range []string{filepath.Join(p.Root, tmplPath), filepath.Join(p.Root, targetPath), filepath.Join(p.Pool, "db.raw")} {
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(p.Pool, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEnableDisable(t *testing.T) {
	p := setup(t)
	wants := filepath.Join(p.UnitDir, "berth-machines.target.wants", "berth-nspawn@web.service")
	targetLink := filepath.Join(p.UnitDir, "multi-user.target.wants", "berth-machines.target")
	dropIn := filepath.Join(p.UnitDir, "berth-nspawn@web.service.d", DropInName)

	got, err := Enable(p, "web", []byte("[Service]\nMemoryMax=1G\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{Type: "symlink", Path: wants, Target: tmplPath},
		{Type: "symlink", Path: targetLink, Target: targetPath},
		{Type: "write", Path: dropIn},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Enable (-want +got):\n%s", diff)
	}
	for link, target := range map[string]string{wants: tmplPath, targetLink: targetPath} {
		if l, err := os.Readlink(link); err != nil || l != target {
			t.Errorf("Readlink(%s) = %q, %v; want %q", link, l, err, target)
		}
	}
	if got, err := Enable(p, "web", nil); err != nil || len(got) != 0 {
		t.Errorf("second Enable = %v, %v; want no changes", got, err)
	}
	if _, err := Enable(p, "db", nil); err != nil {
		t.Fatal(err)
	}
	if ms, err := Enabled(p); err != nil || !cmp.Equal(ms, []string{"db", "web"}) {
		t.Errorf("Enabled = %v, %v; want [db web]", ms, err)
	}

	got, err = Disable(p, "web")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Change{{Type: "unlink", Path: wants}, {Type: "unlink", Path: dropIn}}, got); diff != "" {
		t.Errorf("Disable (-want +got):\n%s", diff)
	}
	if on, err := IsEnabled(p, "web"); on || err != nil {
		t.Errorf("IsEnabled after Disable = %v, %v", on, err)
	}
	if _, err := os.Stat(filepath.Dir(dropIn)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty drop-in directory left behind: %v", err)
	}
	if _, err := os.Lstat(targetLink); err != nil {
		t.Errorf("Disable removed the target link: %v", err)
	}
	if got, err := Disable(p, "web"); err != nil || len(got) != 0 {
		t.Errorf("second Disable = %v, %v; want no changes", got, err)
	}
}

func TestEnableBadInput(t *testing.T) {
	p := setup(t)
	tests := []struct {
		name, machine string
		want          error
	}{
		{"missing image", "nope", images.ErrNotFound},
		{"invalid name", "-x", names.ErrInvalid},
		{"path", "../web", names.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Enable(p, tt.machine, nil); !errors.Is(err, tt.want) {
				t.Fatalf("Enable = %v, want %v", err, tt.want)
			}
		})
	}
	if err := os.Remove(filepath.Join(p.Root, tmplPath)); err != nil {
		t.Fatal(err)
	}
	if _, err := Enable(p, "web", nil); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Enable without template = %v, want ErrNotInstalled", err)
	}
	if _, err := Disable(p, "-x"); !errors.Is(err, names.ErrInvalid) {
		t.Fatalf("Disable(-x) = %v, want ErrInvalid", err)
	}
}
