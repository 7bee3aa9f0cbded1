package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
)

// fileInfo is what a faithful copy must keep of one entry.
type fileInfo struct {
	Mode     uint32
	UID, GID uint32
	Size     int64
	Mtime    int64
	Target   string
	Rdev     uint64
	Xattrs   map[string]string
	LinkTo   string // first path of the same inode, for hard links
	Sparse   bool   // fewer blocks than size
}

// manifest describes every entry below root.
func manifest(t *testing.T, root string) map[string]fileInfo {
	t.Helper()
	out := map[string]fileInfo{}
	firsts := map[uint64]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		fi := fileInfo{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Size: st.Size, Rdev: st.Rdev,
			Xattrs: xattrs(t, path), Sparse: st.Mode&unix.S_IFMT == unix.S_IFREG && st.Blocks*512 < st.Size}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			fi.Mtime = st.Mtim.Nano()
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			fi.Target, _ = os.Readlink(path)
		}
		if st.Nlink > 1 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if first, ok := firsts[st.Ino]; ok {
				fi.LinkTo = first
			} else {
				firsts[st.Ino] = rel
			}
		}
		out[rel] = fi
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// xattrs reads every extended attribute of path, without following it.
func xattrs(t *testing.T, path string) map[string]string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(path, buf)
	if err != nil || n == 0 {
		return nil
	}
	out := map[string]string{}
	for _, name := range bytes.Split(bytes.TrimSuffix(buf[:n], []byte{0}), []byte{0}) {
		v := make([]byte, 64<<10)
		vn, err := unix.Lgetxattr(path, string(name), v)
		if err != nil {
			t.Fatalf("getxattr %s %s: %v", path, name, err)
		}
		out[string(name)] = fmt.Sprintf("%x", v[:vn])
	}
	return out
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

// fidelityTree builds a tree with every kind of metadata a copy can lose.
func fidelityTree(t *testing.T, root string) {
	testbed.RequireTool(t, "setfacl")
	testbed.RequireTool(t, "setcap")
	mkdirs(t, filepath.Join(root, "d/deep"), filepath.Join(root, "shared"), filepath.Join(root, "tmp"))
	writeFile(t, filepath.Join(root, "d/f"), "file", 0o640)
	writeFile(t, filepath.Join(root, "su"), "setuid", 0o755)
	writeFile(t, filepath.Join(root, "ping"), "caps", 0o755)
	writeFile(t, filepath.Join(root, "h1"), "linked", 0o644)
	writeFile(t, filepath.Join(root, "empty"), "", 0o600)
	writeFile(t, filepath.Join(root, "shared/inner"), "in a setgid directory", 0o664)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Link(filepath.Join(root, "h1"), filepath.Join(root, "d/h2")))
	must(os.Link(filepath.Join(root, "h1"), filepath.Join(root, "d/deep/h3")))
	must(os.Chown(filepath.Join(root, "d"), 1000, 1001))
	must(os.Chown(filepath.Join(root, "d/f"), 1000, 100))
	must(os.Chmod(filepath.Join(root, "d"), 0o750))
	must(unix.Chmod(filepath.Join(root, "su"), 0o4755))
	must(unix.Chmod(filepath.Join(root, "shared"), 0o2775))
	must(unix.Chmod(filepath.Join(root, "tmp"), 0o1777))
	must(unix.Setxattr(filepath.Join(root, "d/f"), "user.test", []byte("hello"), 0))
	must(unix.Setxattr(filepath.Join(root, "d"), "trusted.berth", []byte{0, 1, 2}, 0))
	run(t, "setcap", "cap_net_raw+ep", filepath.Join(root, "ping"))
	run(t, "setfacl", "-m", "u:1234:rwx", filepath.Join(root, "d/f"))
	run(t, "setfacl", "-d", "-m", "g:55:rx", filepath.Join(root, "shared"))
	must(os.Symlink("/etc/passwd", filepath.Join(root, "abs-link")))
	must(os.Symlink("../h1", filepath.Join(root, "d/rel-link")))
	must(os.Lchown(filepath.Join(root, "abs-link"), 1000, 1000))
	must(unix.Mkfifo(filepath.Join(root, "fifo"), 0o620))
	must(unix.Mknod(filepath.Join(root, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	f, err := os.Create(filepath.Join(root, "sparse"))
	must(err)
	_, err = f.WriteAt(bytes.Repeat([]byte{7}, 4096), 1<<20)
	must(err)
	must(f.Truncate(64 << 20))
	must(f.Close())
	old := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	must(os.Chtimes(filepath.Join(root, "d/f"), old, old))
	must(unix.Lutimes(filepath.Join(root, "abs-link"), []unix.Timeval{unix.NsecToTimeval(old.UnixNano()), unix.NsecToTimeval(old.UnixNano())}))
}

func TestIntegrationCopyFidelity(t *testing.T) {
	testbed.RequireRoot(t)
	p := testbed.Paths(t)
	src := filepath.Join(p.Pool, "src")
	mkdirs(t, src)
	fidelityTree(t, src)
	m := New(p)
	if err := m.Clone(context.Background(), "src", "dst", false, nil); err != nil {
		t.Fatal(err)
	}
	want, got := manifest(t, src), manifest(t, filepath.Join(p.Pool, "dst"))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("clone differs (-source +clone):\n%s", diff)
	}
	if got["su"].Mode&unix.S_ISUID == 0 || got["ping"].Xattrs["security.capability"] == "" ||
		got["d/f"].Xattrs["system.posix_acl_access"] == "" || got["shared"].Mode&unix.S_ISGID == 0 {
		t.Errorf("setuid, capabilities or ACLs missing from the clone: %+v %+v", got["su"], got["d/f"])
	}
	if !got["sparse"].Sparse || got["h1"].LinkTo != "d/deep/h3" || got["d/h2"].LinkTo != "d/deep/h3" {
		t.Errorf("holes or hard links lost: %+v %+v", got["sparse"], got["h1"])
	}
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("compared %d entries: %v", len(keys), keys)
}

func TestIntegrationCloneENOSPC(t *testing.T) {
	testbed.RequireRoot(t)
	p := testbed.Paths(t)
	mnt := testbed.LoopFS(t, "ext4", 16<<20)
	p.Pool = mnt
	p.ImageDirs[2] = mnt
	src := filepath.Join(p.ImageDirs[0], "big")
	mkdirs(t, src)
	for i := range 4 {
		data := bytes.Repeat([]byte{byte(i + 1)}, 8<<20)
		writeFile(t, filepath.Join(src, fmt.Sprintf("blob%d", i)), string(data), 0o644)
	}
	before := manifest(t, src)
	m := New(p)
	err := m.Clone(context.Background(), "big", "copy", false, nil)
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("clone onto a full file system: %v, want ENOSPC", err)
	}
	if diff := cmp.Diff([]string{"lost+found"}, entries(t, mnt)); diff != "" {
		t.Errorf("pool after failed clone (-want +got):\n%s", diff)
	}
	if _, err := m.Find("copy"); !errors.Is(err, ErrNotFound) {
		t.Errorf("half clone visible: %v", err)
	}
	if diff := cmp.Diff(before, manifest(t, src)); diff != "" {
		t.Errorf("source changed (-before +after):\n%s", diff)
	}
}

func TestIntegrationCloneCancelled(t *testing.T) {
	p, m := poolWithBusybox(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Clone(ctx, "bb", "copy", false, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled clone: %v", err)
	}
	if diff := cmp.Diff([]string{"bb"}, entries(t, p.Pool)); diff != "" {
		t.Errorf("pool (-want +got):\n%s", diff)
	}
}

func TestIntegrationCloneCancelledMidway(t *testing.T) {
	testbed.RequireRoot(t)
	p := testbed.Paths(t)
	if err := makeTree(filepath.Join(p.Pool, "many"), 2, 600, 1<<20); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := New(p).Clone(ctx, "many", "copy", false, func(Progress) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("clone cancelled midway: %v, want context.Canceled", err)
	}
	if diff := cmp.Diff([]string{"many"}, entries(t, p.Pool)); diff != "" {
		t.Errorf("pool (-want +got):\n%s", diff)
	}
}

func TestIntegrationCopyTree(t *testing.T) {
	testbed.RequireRoot(t)
	src := filepath.Join(t.TempDir(), "src")
	mkdirs(t, src)
	fidelityTree(t, src)
	dst := filepath.Join(t.TempDir(), "dst")
	mkdirs(t, dst)
	if err := CopyTree(context.Background(), src, dst, nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(manifest(t, src), manifest(t, dst)); diff != "" {
		t.Errorf("copy differs (-source +copy):\n%s", diff)
	}
	if err := CopyTree(context.Background(), src, dst, nil); !errors.Is(err, ErrExists) {
		t.Errorf("copy into a non-empty directory: %v, want ErrExists", err)
	}
}

func TestIntegrationInspect(t *testing.T) {
	testbed.RequireRoot(t)
	p := testbed.Paths(t)
	dir := filepath.Join(p.Root, "srv", "web")
	mkdirs(t, dir)
	writeFile(t, filepath.Join(p.Root, "srv", "disk.raw"), "x", 0o444)
	m := New(p)
	for path, want := range map[string]Image{
		dir: {Name: "web", Type: Directory}, filepath.Join(p.Root, "srv", "disk.raw"): {Name: "disk", Type: Raw, ReadOnly: true},
		filepath.Join(p.ImageDirs[5]): {Name: "machines", Type: Directory, ReadOnly: true},
	} {
		img, err := m.Inspect(path)
		if err != nil {
			t.Fatal(err)
		}
		if img.Name != want.Name || img.Type != want.Type || img.ReadOnly != want.ReadOnly {
			t.Errorf("Inspect(%s) = %+v, want %+v", path, img, want)
		}
	}
	if _, err := m.Inspect(filepath.Join(p.Root, "nope")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Inspect of a missing path: %v", err)
	}
}
