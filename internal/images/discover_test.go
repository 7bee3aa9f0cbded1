package images

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// mkdirs creates directories, failing t on error.
func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// writeFile creates a file with content and mode.
func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	mkdirs(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// chattr sets or clears the immutable flag of path.
func chattr(t *testing.T, path string, on bool) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := setImmutable(fd, on); err != nil {
		t.Fatal(err)
	}
}

type listed struct {
	Name     string
	Type     Type
	ReadOnly bool
	Hidden   bool
	Dir      string
}

func summarize(p paths.Paths, imgs []Image) []listed {
	var out []listed
	for _, i := range imgs {
		rel, _ := filepath.Rel(p.Root, filepath.Dir(i.Path))
		out = append(out, listed{i.Name, i.Type, i.ReadOnly, i.Hidden(), rel})
	}
	return out
}

func TestIntegrationDiscovery(t *testing.T) {
	testbed.RequireRoot(t)
	p := testbed.Paths(t)
	etc, pool, vendor := p.ImageDirs[0], p.ImageDirs[2], p.ImageDirs[5]
	mkdirs(t, filepath.Join(pool, "a"), filepath.Join(vendor, "a"), filepath.Join(vendor, "v"),
		filepath.Join(pool, ".hidden"), filepath.Join(pool, ".#a1234"), filepath.Join(pool, "frozen"),
		filepath.Join(etc, "e"))
	writeFile(t, filepath.Join(pool, "r.raw"), "disk", 0o644)
	writeFile(t, filepath.Join(pool, "ro.raw"), "disk", 0o444)
	writeFile(t, filepath.Join(pool, "a.nspawn"), "[Exec]\n", 0o644)
	writeFile(t, filepath.Join(pool, "plain"), "not an image", 0o644)
	chattr(t, filepath.Join(pool, "frozen"), true)
	t.Cleanup(func() { chattr(t, filepath.Join(pool, "frozen"), false) })

	m := New(p)
	imgs, err := m.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []listed{
		{".hidden", Directory, false, true, "var/lib/machines"},
		{".host", Directory, true, false, ".."},
		{"a", Directory, false, false, "var/lib/machines"},
		{"e", Directory, false, false, "etc/machines"},
		{"frozen", Directory, true, false, "var/lib/machines"},
		{"r", Raw, false, false, "var/lib/machines"},
		{"ro", Raw, true, false, "var/lib/machines"},
		{"v", Directory, true, false, "usr/lib/machines"},
	}
	if diff := cmp.Diff(want, summarize(p, imgs)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	host, err := m.Find(names.Host)
	if err != nil || host.Path != p.Root || !host.ReadOnly {
		t.Errorf("Find(.host) = %+v, %v", host, err)
	}
	r, err := m.Find("r")
	if err != nil || r.Usage == Unknown || r.Limit != 4 || r.ModificationTimestamp == 0 {
		t.Errorf("raw sizes: %+v, %v", r, err)
	}
	for _, bad := range []string{"nope", "plain"} {
		if _, err := m.Find(bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("Find(%q) = %v, want ErrNotFound", bad, err)
		}
	}
	for _, bad := range []string{"../x", ".#a1234", "a/b", ""} {
		if _, err := m.Find(bad); !errors.Is(err, names.ErrInvalid) {
			t.Errorf("Find(%q) = %v, want names.ErrInvalid", bad, err)
		}
	}
}

func TestIntegrationSearchOrder(t *testing.T) {
	testbed.RequireRoot(t)
	p := testbed.Paths(t)
	m := New(p)
	// Fill the search path from the back; each new directory must win.
	for i := len(p.ImageDirs) - 1; i >= 0; i-- {
		mkdirs(t, filepath.Join(p.ImageDirs[i], "x"))
		img, err := m.Find("x")
		if err != nil || filepath.Dir(img.Path) != p.ImageDirs[i] {
			t.Errorf("with x in %s: found %+v, %v", p.ImageDirs[i], img, err)
		}
	}
	// A directory beats a .raw of the same name in the same directory.
	writeFile(t, filepath.Join(p.ImageDirs[0], "x.raw"), "", 0o644)
	if img, _ := m.Find("x"); img.Type != Directory {
		t.Errorf("x and x.raw: found %s", img.Type)
	}
}
