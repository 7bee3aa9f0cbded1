package chownshift

import (
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
)

// entry is one line of a tree manifest.
type entry struct {
	UID, GID uint32
	Mode     uint32
	Link     string // symlink target
	HardLink string // first path of the same inode
	Xattrs   map[string]string
}

// manifest records owner, group, full mode, link targets, hard link
// identity and the raw ACL and capability xattrs of every entry below root,
// root itself included, never following links.
func manifest(t *testing.T, root string) map[string]entry {
	t.Helper()
	m := map[string]entry{}
	inodes := map[uint64]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		e := entry{UID: st.Uid, GID: st.Gid, Mode: st.Mode, Xattrs: map[string]string{}}
		if d.Type()&fs.ModeSymlink != 0 {
			e.Link, _ = os.Readlink(p)
		}
		if first, ok := inodes[st.Ino]; ok && !d.IsDir() {
			e.HardLink = first
		} else {
			inodes[st.Ino] = rel
		}
		for _, a := range []string{xattrACL, xattrDefACL, xattrCaps} {
			buf := make([]byte, 1024)
			if n, err := unix.Lgetxattr(p, a, buf); err == nil {
				e.Xattrs[a] = hex.EncodeToString(buf[:n])
			}
		}
		m[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(testbed.RequireTool(t, name), args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

// v3caps is a revision 3 security.capability value (cap_net_raw+ep) whose
// root ID is 1000.
const v3caps = "0x0100000300200000000000000000000000000000e8030000"

// buildTree creates a tree exercising everything a shift must keep right.
// outside is a file outside the tree that a symlink points to.
func buildTree(t *testing.T, root, outside string) {
	t.Helper()
	type f struct {
		path     string
		mode     os.FileMode
		uid, gid int
	}
	for _, d := range []f{
		{"", 0o755, 0, 0}, {"a", 0o755, 0, 0}, {"a/b", 0o750, 1000, 1000},
		{"tmp", 0o777 | os.ModeSticky, 0, 0}, {"shared", 0o775 | os.ModeSetgid, 1000, 100},
	} {
		if err := os.MkdirAll(filepath.Join(root, d.path), 0o755); err != nil {
			t.Fatal(err)
		}
		chownMod(t, filepath.Join(root, d.path), d.uid, d.gid, d.mode)
	}
	for _, x := range []f{
		{"f0", 0o644, 0, 0}, {"suid", 0o755 | os.ModeSetuid, 0, 0},
		{"sgid", 0o755 | os.ModeSetgid, 0, 50}, {"a/b/own", 0o600, 1000, 1000},
		{"nobody", 0o644, 65534, 65534}, {"acl", 0o640, 0, 0}, {"cap", 0o755, 0, 0},
		{"suidcap", 0o755, 0, 0}, {"cap3", 0o755, 0, 0},
	} {
		p := filepath.Join(root, x.path)
		if err := os.WriteFile(p, []byte(x.path), 0o600); err != nil {
			t.Fatal(err)
		}
		chownMod(t, p, x.uid, x.gid, x.mode)
	}
	run(t, "setfacl", "-m", "u:1234:rwx,g:2345:r-x", filepath.Join(root, "acl"))
	run(t, "setfacl", "-d", "-m", "u:1234:rx,g:100:rwx", filepath.Join(root, "shared"))
	run(t, "setfacl", "-m", "u:4321:rx", filepath.Join(root, "shared"))
	run(t, "setcap", "cap_net_raw+ep", filepath.Join(root, "cap"))
	// chown clears capabilities even when the owner stays the same: set
	// them after the mode.
	chownMod(t, filepath.Join(root, "suidcap"), 0, 0, 0o755|os.ModeSetuid)
	run(t, "setcap", "cap_net_bind_service+ep", filepath.Join(root, "suidcap"))
	run(t, "setfattr", "-n", xattrCaps, "-v", v3caps, filepath.Join(root, "cap3"))
	for link, target := range map[string]string{"in": "f0", "out": outside, "dangling": "nowhere", "a/up": "../suid"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Lchown(filepath.Join(root, "a/up"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"a/hl": "f0", "a/b/hsuid": "suid"} {
		if err := os.Link(filepath.Join(root, target), filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mkfifo(filepath.Join(root, "fifo"), 0o620); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(root, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
}

func chownMod(t *testing.T, p string, uid, gid int, mode os.FileMode) {
	t.Helper()
	if err := os.Lchown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationShiftRoundTrip(t *testing.T) {
	testbed.RequireRoot(t)
	for _, tc := range []struct {
		name       string
		procXattrs bool
	}{{"xattrat", false}, {"proc fallback", true}} {
		t.Run(tc.name, func(t *testing.T) { roundTrip(t, tc.procXattrs) })
	}
}

func roundTrip(t *testing.T, procXattrs bool) {
	dir := t.TempDir()
	root, outside := filepath.Join(dir, "tree"), filepath.Join(dir, "outside")
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(outside, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	buildTree(t, root, outside)
	before := manifest(t, root)
	const base = 0x80000
	var reports int
	res, err := Shift(root, base, Options{Progress: func(Progress) { reports++ }, procXattrs: procXattrs})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Resumed || res.From != 0 || reports == 0 {
		t.Errorf("shift result %+v, %d progress reports", res, reports)
	}
	mid := manifest(t, root)
	for path, e := range before {
		got := mid[path]
		if got.UID != e.UID|base || got.GID != e.GID|base || got.Mode != e.Mode {
			t.Errorf("%s: shifted to %d:%d %o, want %d:%d %o", path, got.UID, got.GID, got.Mode, e.UID|base, e.GID|base, e.Mode)
		}
		if len(got.Xattrs) != len(e.Xattrs) {
			t.Errorf("%s: xattrs %v, want the names of %v", path, got.Xattrs, e.Xattrs)
		}
	}
	checkACL(t, filepath.Join(root, "acl"), fmt.Sprintf("user:%d:rwx", base+1234))
	checkACL(t, filepath.Join(root, "shared"), fmt.Sprintf("default:user:%d:r-x", base+1234))
	if before["suidcap"].Xattrs[xattrCaps] == "" || before["suidcap"].Mode&unix.S_ISUID == 0 {
		t.Fatalf("test tree lacks a setuid file with capabilities: %+v", before["suidcap"])
	}
	if got := mid["cap3"].Xattrs[xattrCaps]; !strings.HasSuffix(got, "e8030800") {
		t.Errorf("v3 capability root ID not shifted: %s", got)
	}
	var st unix.Stat_t
	if err := unix.Stat(outside, &st); err != nil || st.Uid != 4242 {
		t.Errorf("symlink target outside the tree changed owner: %d (%v)", st.Uid, err)
	}
	again, err := Shift(root, base, Options{})
	if err != nil || again.Changed {
		t.Errorf("second shift to the same base: %+v, %v; want unchanged", again, err)
	}
	if _, err := Shift(root, 0, Options{procXattrs: procXattrs}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, manifest(t, root)); d != "" {
		t.Errorf("manifest after shift and undo (-before +after):\n%s", d)
	}
}

func checkACL(t *testing.T, path, want string) {
	t.Helper()
	out, err := exec.Command("getfacl", "-n", "-p", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), want) {
		t.Errorf("getfacl %s lacks %q: %v\n%s", path, want, err, out)
	}
}

func TestIntegrationShiftStopsAtMounts(t *testing.T) {
	testbed.RequireRoot(t)
	root := t.TempDir()
	mnt := filepath.Join(root, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	inner := filepath.Join(mnt, "file")
	if err := os.WriteFile(inner, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A bind mount of a host directory on the same file system (same
	// st_dev): only the mount ID tells it apart.
	host, bind := t.TempDir(), filepath.Join(root, "bind")
	if err := os.WriteFile(filepath.Join(host, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(bind, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(host, bind, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(bind, unix.MNT_DETACH) })
	if _, err := Shift(root, 0x90000, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{mnt, inner, filepath.Join(host, "file"), host} {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil || st.Uid != 0 {
			t.Errorf("%s on another file system was shifted: uid %d (%v)", p, st.Uid, err)
		}
	}
	if _, err := Shift("/proc", 0x90000, Options{}); err == nil {
		t.Error("shifting /proc was accepted")
	}
}

func TestIntegrationShiftRejectsMixedTop(t *testing.T) {
	testbed.RequireRoot(t)
	root := t.TempDir()
	if err := os.Chown(root, 0x80000, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := Shift(root, 0x90000, Options{}); err == nil {
		t.Error("top directory with owner and group in different ranges was shifted")
	}
}
