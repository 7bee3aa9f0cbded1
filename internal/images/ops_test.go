package images

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// poolWithBusybox returns paths and a manager with a busybox image "bb" in
// the pool.
func poolWithBusybox(t *testing.T) (paths.Paths, *Manager) {
	t.Helper()
	p := testbed.Paths(t)
	src := testbed.BusyboxImage(t)
	if err := os.Rename(src, filepath.Join(p.Pool, "bb")); err != nil {
		t.Fatal(err)
	}
	return p, New(p)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func TestIntegrationRoundTrip(t *testing.T) {
	p, m := poolWithBusybox(t)
	writeFile(t, filepath.Join(p.Pool, "bb.nspawn"), "[Exec]\nBoot=no\n", 0o644)
	writeFile(t, filepath.Join(p.SettingsTrusted[0], "bb.nspawn"), "[Exec]\nBoot=no\n", 0o644)

	var last Progress
	if err := m.Clone(context.Background(), "bb", "copy", false, func(pr Progress) { last = pr }); err != nil {
		t.Fatal(err)
	}
	if last.Files == 0 {
		t.Errorf("no progress reported")
	}
	for _, f := range []string{"copy/bin/busybox", "copy.nspawn", "bb/bin/busybox"} {
		if !exists(filepath.Join(p.Pool, f)) {
			t.Errorf("after clone %s missing", f)
		}
	}
	if !exists(filepath.Join(p.SettingsTrusted[0], "copy.nspawn")) {
		t.Errorf("trusted settings not cloned")
	}
	if err := m.Rename("copy", "moved"); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]bool{
		filepath.Join(p.Pool, "moved/bin/busybox"): true, filepath.Join(p.Pool, "moved.nspawn"): true,
		filepath.Join(p.Pool, "copy"): false, filepath.Join(p.Pool, "copy.nspawn"): false,
		filepath.Join(p.SettingsTrusted[0], "moved.nspawn"): true,
	} {
		if exists(f) != want {
			t.Errorf("after rename: %s exists=%v, want %v", f, !want, want)
		}
	}
	if err := m.Remove("moved"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(p.Pool, "moved"), filepath.Join(p.Pool, "moved.nspawn"), filepath.Join(p.SettingsTrusted[0], "moved.nspawn")} {
		if exists(f) {
			t.Errorf("after remove %s still exists", f)
		}
	}
	if names := entries(t, p.Pool); !cmp.Equal(names, []string{"bb", "bb.nspawn"}) {
		t.Errorf("pool left with %v", names)
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestIntegrationOpErrors(t *testing.T) {
	p, m := poolWithBusybox(t)
	mkdirs(t, filepath.Join(p.Pool, "other"), filepath.Join(p.ImageDirs[5], "vendor"))
	lk, err := m.LockPath(filepath.Join(p.Pool, "bb"))
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Release()
	if _, err := m.LockPath(filepath.Join(p.Pool, "bb")); !errors.Is(err, ErrBusy) {
		t.Errorf("second lock: %v, want ErrBusy", err)
	}
	ctx := context.Background()
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"remove busy", func() error { return m.Remove("bb") }, ErrBusy},
		{"rename busy", func() error { return m.Rename("bb", "bb2") }, ErrBusy},
		{"rename onto existing", func() error { return m.Rename("other", "bb") }, ErrExists},
		{"clone onto existing", func() error { return m.Clone(ctx, "other", "bb", false, nil) }, ErrExists},
		{"clone onto vendor name", func() error { return m.Clone(ctx, "other", "vendor", false, nil) }, ErrExists},
		{"remove vendor", func() error { return m.Remove("vendor") }, ErrReadOnly},
		{"rename vendor", func() error { return m.Rename("vendor", "v2") }, ErrReadOnly},
		{"mark vendor", func() error { return m.MarkReadOnly("vendor", false) }, ErrReadOnly},
		{"remove host", func() error { return m.Remove(".host") }, ErrReadOnly},
		{"rename host", func() error { return m.Rename(".host", "h") }, ErrReadOnly},
		{"clone host", func() error { return m.Clone(ctx, ".host", "h", false, nil) }, ErrNotSupported},
		{"remove missing", func() error { return m.Remove("missing") }, ErrNotFound},
		{"set limit", func() error { return m.SetLimit("other", 1<<30) }, ErrNotSupported},
		{"set pool limit", func() error { return m.SetPoolLimit(1 << 30) }, ErrNotSupported},
		{"rename to .host", func() error { return m.Rename("other", ".host") }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			if tt.want == nil {
				if err == nil {
					t.Fatal("succeeded, want an error")
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
	// The busy image is untouched, and a clone of it still works.
	if err := m.Clone(ctx, "bb", "snap", false, nil); err != nil {
		t.Errorf("clone of a busy image: %v", err)
	}
	lk.Release()
	if err := m.Rename("bb", "bb2"); err != nil {
		t.Errorf("rename after release: %v", err)
	}
}

func TestIntegrationReadOnly(t *testing.T) {
	p, m := poolWithBusybox(t)
	writeFile(t, filepath.Join(p.Pool, "disk.raw"), "data", 0o644)
	for _, name := range []string{"bb", "disk"} {
		if err := m.MarkReadOnly(name, true); err != nil {
			t.Fatal(err)
		}
		if img, _ := m.Find(name); !img.ReadOnly {
			t.Errorf("%s not read-only after MarkReadOnly", name)
		}
	}
	// An immutable directory can still be renamed, and stays immutable.
	if err := m.Rename("bb", "frozen"); err != nil {
		t.Fatal(err)
	}
	if img, _ := m.Find("frozen"); !img.ReadOnly {
		t.Errorf("rename lost the immutable flag")
	}
	if err := os.WriteFile(filepath.Join(p.Pool, "frozen", "new"), nil, 0o644); err == nil {
		t.Errorf("wrote into an immutable image")
	}
	if err := m.Clone(context.Background(), "frozen", "ro-clone", true, nil); err != nil {
		t.Fatal(err)
	}
	if img, _ := m.Find("ro-clone"); !img.ReadOnly {
		t.Errorf("read-only clone is writable")
	}
	if err := m.MarkReadOnly("disk", false); err != nil {
		t.Fatal(err)
	}
	if img, _ := m.Find("disk"); img.ReadOnly {
		t.Errorf("disk still read-only")
	}
	// Remove clears the immutable flag.
	for _, name := range []string{"frozen", "ro-clone", "disk"} {
		if err := m.Remove(name); err != nil {
			t.Errorf("remove %s: %v", name, err)
		}
	}
}

func TestIntegrationSymlinkEntry(t *testing.T) {
	p, m := poolWithBusybox(t)
	outside := filepath.Join(p.Root, "srv", "outside")
	writeFile(t, filepath.Join(outside, "keep"), "precious", 0o644)
	if err := os.Symlink(outside, filepath.Join(p.Pool, "link")); err != nil {
		t.Fatal(err)
	}
	img, err := m.Find("link")
	if err != nil || !img.Symlink || img.Type != Directory {
		t.Fatalf("Find(link) = %+v, %v", img, err)
	}
	if err := m.MarkReadOnly("link", true); !errors.Is(err, ErrSymlink) {
		t.Errorf("MarkReadOnly through a symlink: %v, want ErrSymlink", err)
	}
	if err := m.Rename("link", "link2"); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove("link2"); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(p.Pool, "link2")) || !exists(filepath.Join(outside, "keep")) {
		t.Errorf("remove went through the symlink or left it")
	}
}

func TestIntegrationConcurrentRename(t *testing.T) {
	p, m := poolWithBusybox(t)
	mkdirs(t, filepath.Join(p.Pool, "other"))
	for round := range 5 {
		target := "target" + string(rune('a'+round))
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, src := range []string{"bb", "other"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = m.Rename(src, target)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ErrExists):
				t.Errorf("loser error %v, want ErrExists", err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d renames won: %v", round, ok, errs)
		}
		// Put the winner back under its old name for the next round.
		winner := map[bool]string{true: "bb", false: "other"}[errs[0] == nil]
		if err := m.Rename(target, winner); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIntegrationClean(t *testing.T) {
	p, m := poolWithBusybox(t)
	mkdirs(t, filepath.Join(p.Pool, ".h1"), filepath.Join(p.Pool, ".h2"), filepath.Join(p.Pool, "visible"),
		filepath.Join(p.ImageDirs[5], ".vendorhidden"))
	h2, err := m.Find(".h2")
	if err != nil {
		t.Fatal(err)
	}
	lk, err := m.Lock(h2)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Release()
	removed, err := m.Clean(CleanHidden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Removed{{".h1", Unknown}}, removed); diff != "" {
		t.Errorf("Clean(hidden) (-want +got):\n%s", diff)
	}
	removed, err = m.Clean(CleanAll)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Removed{{"bb", Unknown}, {"visible", Unknown}}, removed); diff != "" {
		t.Errorf("Clean(all) (-want +got):\n%s", diff)
	}
	if _, err := m.Clean("some"); err == nil {
		t.Errorf("Clean accepted a bad mode")
	}
}

func TestIntegrationMetadata(t *testing.T) {
	p, m := poolWithBusybox(t)
	root := filepath.Join(p.Pool, "bb")
	writeFile(t, filepath.Join(root, "etc/hostname"), "bbox\n", 0o644)
	writeFile(t, filepath.Join(root, "usr/lib/os-release"), "ID=busybox\n", 0o644)
	os.Remove(filepath.Join(root, "etc/os-release"))
	if err := os.Symlink("/etc/shadow", filepath.Join(root, "etc/machine-info")); err != nil {
		t.Fatal(err)
	}
	_, err := m.Metadata("bb")
	if err == nil {
		t.Fatalf("machine-info symlinked out was read")
	}
	os.Remove(filepath.Join(root, "etc/machine-info"))
	md, err := m.Metadata("bb")
	if err != nil {
		t.Fatal(err)
	}
	if md.Hostname != "bbox" || md.OSRelease["ID"] != "busybox" {
		t.Errorf("metadata = %+v", md)
	}
}

func TestIntegrationCleanTemporaries(t *testing.T) {
	p, m := poolWithBusybox(t)
	stale, running := tempName("old"), tempName("new.raw")
	mkdirs(t, filepath.Join(p.Pool, stale, "etc"))
	writeFile(t, filepath.Join(p.Pool, running), "half", 0o600)
	lk, err := m.nameLock("new") // as a clone to "new" in progress holds it
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Release()
	if _, err := m.Clean(CleanHidden); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{running, "bb"}, entries(t, p.Pool)); diff != "" {
		t.Errorf("pool after clean (-want +got):\n%s", diff)
	}
}

func TestIntegrationRenameFailureKeepsImmutable(t *testing.T) {
	p, m := poolWithBusybox(t)
	mkdirs(t, filepath.Join(p.Pool, "taken"))
	if err := m.MarkReadOnly("bb", true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.MarkReadOnly("bb", false) })
	if err := m.Rename("bb", "taken"); !errors.Is(err, ErrExists) {
		t.Fatalf("rename onto taken: %v", err)
	}
	if img, _ := m.Find("bb"); !img.ReadOnly {
		t.Errorf("failed rename lost the immutable flag")
	}
}

func TestIntegrationPoolPermissions(t *testing.T) {
	p, m := poolWithBusybox(t)
	if err := os.Chmod(p.Pool, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p.Pool, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if err := m.Clone(context.Background(), "bb", "c", false, nil); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 || st.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("pool left %v uid %d", st.Mode(), st.Sys().(*syscall.Stat_t).Uid)
	}
}

func TestIntegrationRawMetadata(t *testing.T) {
	testbed.RequireRoot(t)
	mkfs := testbed.RequireTool(t, "mkfs.ext4")
	p := testbed.Paths(t)
	content := filepath.Join(t.TempDir(), "content")
	writeFile(t, filepath.Join(content, "etc/hostname"), "rawbox\n", 0o644)
	writeFile(t, filepath.Join(content, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n", 0o444)
	writeFile(t, filepath.Join(content, "usr/lib/os-release"), "ID=raw\n", 0o644)
	if err := os.Symlink("../usr/lib/os-release", filepath.Join(content, "etc/os-release")); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(p.Pool, "disk.raw")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(16 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	run(t, mkfs, "-q", "-d", content, img)

	md, err := New(p).Metadata("disk")
	if err != nil {
		t.Fatal(err)
	}
	want := Metadata{Hostname: "rawbox", MachineID: []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef},
		MachineInfo: map[string]string{}, OSRelease: map[string]string{"ID": "raw"}}
	if diff := cmp.Diff(want, md); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), "image-mount-") {
		t.Errorf("the image mount is visible on the host")
	}
}

func TestTempTarget(t *testing.T) {
	tests := []struct {
		entry, name string
		ok          bool
	}{
		{tempName("web"), "web", true},
		{tempName("disk.raw"), "disk", true},
		{".#web", "", false},
		{".#web0123456789abcdeg", "", false},
		{"web0123456789abcdef", "", false},
		{".#0123456789abcdef", "", false},
	}
	for _, tt := range tests {
		name, ok := tempTarget(tt.entry)
		if name != tt.name || ok != tt.ok {
			t.Errorf("tempTarget(%q) = %q, %v; want %q, %v", tt.entry, name, ok, tt.name, tt.ok)
		}
	}
}

func TestIntegrationCloneSkipsSettingsSymlink(t *testing.T) {
	p, m := poolWithBusybox(t)
	secret := filepath.Join(p.Root, "secret")
	writeFile(t, secret, "not settings", 0o600)
	if err := os.Symlink(secret, filepath.Join(p.Pool, "bb.nspawn")); err != nil {
		t.Fatal(err)
	}
	if err := m.Clone(context.Background(), "bb", "c", false, nil); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(p.Pool, "c.nspawn")) {
		t.Errorf("a symlinked settings file was copied with the clone")
	}
}
