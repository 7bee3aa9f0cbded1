package images

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
)

func TestIntegrationBtrfs(t *testing.T) {
	testbed.RequireRoot(t)
	p := testbed.Paths(t)
	mnt := testbed.LoopFS(t, "btrfs", 256<<20)
	p.Pool, p.ImageDirs[2] = mnt, mnt
	pool, err := unix.Open(mnt, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pool)
	if err := createSubvolume(pool, "sub"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(mnt, "sub/etc/hostname"), "sub\n", 0o644)
	plain := filepath.Join(p.ImageDirs[0], "plain")
	writeFile(t, filepath.Join(plain, "etc/hostname"), "plain\n", 0o644)

	m := New(p)
	ctx := context.Background()
	steps := []struct {
		name string
		op   func() error
	}{
		{"snapshot", func() error {
			// A snapshot copies no entries one by one.
			return m.Clone(ctx, "sub", "snap", false, func(pr Progress) {
				if pr.Files != 0 {
					t.Errorf("snapshot copied %d entries", pr.Files)
				}
			})
		}},
		{"read-only snapshot", func() error { return m.Clone(ctx, "sub", "rosnap", true, nil) }},
		{"copy into subvolume", func() error { return m.Clone(ctx, "plain", "fromdir", false, nil) }},
		{"mark read-only", func() error { return m.MarkReadOnly("snap", true) }},
	}
	for _, s := range steps {
		if err := s.op(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	imgs, err := m.List()
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Name     string
		Type     Type
		ReadOnly bool
	}
	var got []row
	for _, i := range imgs {
		got = append(got, row{i.Name, i.Type, i.ReadOnly})
	}
	want := []row{{".host", Directory, true}, {"fromdir", Subvolume, false}, {"plain", Directory, false},
		{"rosnap", Subvolume, true}, {"snap", Subvolume, true}, {"sub", Subvolume, false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("images (-want +got):\n%s", diff)
	}
	if data, err := os.ReadFile(filepath.Join(mnt, "snap/etc/hostname")); err != nil || string(data) != "sub\n" {
		t.Errorf("snapshot content: %q, %v", data, err)
	}
	for _, name := range []string{"snap", "rosnap", "fromdir", "sub"} {
		if err := m.Remove(name); err != nil {
			t.Errorf("remove %s: %v", name, err)
		}
	}
	if diff := cmp.Diff([]string(nil), entries(t, mnt)); diff != "" {
		t.Errorf("pool after removes (-want +got):\n%s", diff)
	}
}

func TestIntegrationBtrfsQuota(t *testing.T) {
	testbed.RequireRoot(t)
	btrfs := testbed.RequireTool(t, "btrfs")
	p := testbed.Paths(t)
	mnt := testbed.LoopFS(t, "btrfs", 256<<20)
	p.Pool, p.ImageDirs[2] = mnt, mnt
	m := New(p)
	pool, err := unix.Open(mnt, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pool)
	if err := createSubvolume(pool, "q"); err != nil {
		t.Fatal(err)
	}
	mkdirs(t, filepath.Join(mnt, "plain-dir"))
	if err := m.SetLimit("q", 8<<20); !errors.Is(err, ErrNotSupported) {
		t.Errorf("SetLimit without quotas: %v, want ErrNotSupported", err)
	}
	if u, l := m.PoolUsage(); u != Unknown || l != Unknown {
		t.Errorf("PoolUsage without quotas = %d, %d", u, l)
	}
	run(t, btrfs, "quota", "enable", mnt)
	run(t, btrfs, "quota", "rescan", "-w", mnt)
	if err := m.SetLimit("q", 8<<20); err != nil {
		t.Fatal(err)
	}
	if err := m.SetLimit("plain-dir", 8<<20); !errors.Is(err, ErrNotSupported) {
		t.Errorf("SetLimit of a plain directory: %v, want ErrNotSupported", err)
	}
	f, err := os.Create(filepath.Join(mnt, "q", "big"))
	if err != nil {
		t.Fatal(err)
	}
	_, werr := f.Write(bytes.Repeat([]byte{1}, 16<<20))
	if err := errors.Join(werr, f.Sync(), f.Close()); !errors.Is(err, unix.EDQUOT) {
		t.Errorf("writing 16 MiB into an 8 MiB limit: %v, want EDQUOT", err)
	}
	run(t, btrfs, "filesystem", "sync", mnt)
	img, err := m.Find("q")
	if err != nil {
		t.Fatal(err)
	}
	if img.Limit != 8<<20 || img.Usage == Unknown || img.Usage == 0 {
		t.Errorf("quota of q: usage %d limit %d", img.Usage, img.Limit)
	}
	if err := m.SetPoolLimit(128 << 20); err != nil {
		t.Fatal(err)
	}
	if u, l := m.PoolUsage(); u == Unknown || l != 128<<20 {
		t.Errorf("PoolUsage = %d, %d", u, l)
	}
}

// writeBig writes n bytes to a new file at path and syncs it; the error
// is the first of writing, syncing and closing.
func writeBig(t *testing.T, path string, n int) error {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	_, werr := f.Write(bytes.Repeat([]byte{1}, n))
	return errors.Join(werr, f.Sync(), f.Close())
}

// TestIntegrationBtrfsSubtreeQuota checks that the pool limit covers the
// images in it, those there before the limit was set and those cloned
// after, that an image's limit covers the image, and that removing an
// image removes its quota group.
func TestIntegrationBtrfsSubtreeQuota(t *testing.T) {
	testbed.RequireRoot(t)
	btrfs := testbed.RequireTool(t, "btrfs")
	p := testbed.Paths(t)
	mnt := testbed.LoopFS(t, "btrfs", 256<<20)
	p.Pool, p.ImageDirs[2] = mnt, mnt
	m := New(p)
	pool, err := unix.Open(mnt, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pool)
	run(t, btrfs, "quota", "enable", mnt)
	run(t, btrfs, "quota", "rescan", "-w", mnt)
	if err := createSubvolume(pool, "a"); err != nil {
		t.Fatal(err)
	}
	if err := m.Clone(context.Background(), "a", "b", false, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.SetPoolLimit(48 << 20); err != nil {
		t.Fatal(err)
	}
	if err := m.Clone(context.Background(), "a", "c", false, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.SetLimit("c", 8<<20); err != nil {
		t.Fatal(err)
	}
	if err := m.Clone(context.Background(), "a", "d", false, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.SetLimit("d", 8<<20); err != nil {
		t.Fatal(err)
	}
	checkRemoveDropsQgroup(t, m, pool, "d")
	run(t, btrfs, "quota", "rescan", "-w", mnt)
	steps := []struct {
		file string
		size int
		want error
	}{
		{"a/x", 16 << 20, nil},
		{"c/x", 16 << 20, unix.EDQUOT}, // over c's own 8 MiB
		{"b/x", 16 << 20, nil},
		{"b/y", 24 << 20, unix.EDQUOT}, // over the pool's 48 MiB with a/x and b/x
	}
	for _, s := range steps {
		if err := writeBig(t, filepath.Join(mnt, s.file), s.size); !errors.Is(err, s.want) {
			t.Errorf("write %d MiB to %s: %v, want %v", s.size>>20, s.file, err, s.want)
		}
		run(t, btrfs, "filesystem", "sync", mnt)
	}
	if u, l := m.PoolUsage(); u < 32<<20 || u == Unknown || l != 48<<20 {
		t.Errorf("PoolUsage = %d, %d; want at least 32 MiB of 48 MiB", u, l)
	}
	if img, err := m.Find("c"); err != nil || img.Limit != 8<<20 {
		t.Errorf("Find(c) = limit %d, %v; want 8 MiB", img.Limit, err)
	}
}

// checkRemoveDropsQgroup removes the image name of m's pool (open as
// pool) and checks that its subtree quota group went with it.
func checkRemoveDropsQgroup(t *testing.T, m *Manager, pool int, name string) {
	t.Helper()
	img, err := m.Find(name)
	if err != nil {
		t.Fatal(err)
	}
	var id uint64
	if err := withDir(img.Path, func(fd int) (err error) { id, err = subvolID(fd); return err }); err != nil {
		t.Fatal(err)
	}
	if !qgroupExists(pool, qgroupID(imageQgroupLevel, id)) {
		t.Fatalf("%s has no subtree quota group", name)
	}
	if err := m.Remove(name); err != nil {
		t.Fatal(err)
	}
	if qgroupExists(pool, qgroupID(imageQgroupLevel, id)) {
		t.Errorf("removing %s left its subtree quota group behind", name)
	}
}
