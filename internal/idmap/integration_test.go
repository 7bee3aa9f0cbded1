package idmap

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/berth-dev/berth/internal/uidrange"
)

// openDir returns a temp directory every user may traverse (so processes
// running as a machine's host IDs can reach paths below it).
func openDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{d, filepath.Dir(d)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func mkdir(t *testing.T, p string, uid, gid int) string {
	t.Helper()
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
	return p
}

func owner(t *testing.T, p string) [2]uint32 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return [2]uint32{st.Uid, st.Gid}
}

// idmount mounts src on a new directory, idmapped with ms for UIDs and
// GIDs, and unmounts it when t ends.
func idmount(t *testing.T, src, target string, ms []Mapping) {
	t.Helper()
	ns, err := NewUserNS(ms, ms)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Mount(src, target, ns, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(target, unix.MNT_DETACH) })
}

// runAs runs argv as host UID and GID id (no user namespace).
func runAs(t *testing.T, id uint32, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: id, Gid: id}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v as %d: %v: %s", argv, id, err, out)
	}
}

// runInUserNS runs argv as root of a new user namespace with mapping ms
// and returns its output.
func runInUserNS(t *testing.T, ms []Mapping, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: procIDMaps(ms),
		GidMappings: procIDMaps(ms),
		// Become the namespace's root: the creator keeps host root's
		// kuid otherwise.
		Credential: &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v in user namespace %v: %v: %s", argv, ms, err, out)
	}
	return string(out)
}

func TestIntegrationIdmapMount(t *testing.T) {
	testbed.RequireRoot(t)
	touch := testbed.RequireTool(t, "touch")
	r := uidrange.Range{Base: 0x80000, Size: 0x10000}
	tests := []struct {
		name      string
		bind      Bind
		dirOwner  [2]int               // on-disk owner of the bind source
		files     map[string][2]int    // on-disk owners before
		wantSeen  map[string][2]uint32 // owners through the mount
		creator   uint32               // host ID that creates "new" through the mount
		wantStore [2]uint32            // on-disk owner of "new"
	}{
		{
			name:      "machine root",
			bind:      Bind{Kind: BindIdmap},
			dirOwner:  [2]int{0, 0},
			files:     map[string][2]int{"root": {0, 0}, "user": {1000, 100}},
			wantSeen:  map[string][2]uint32{"root": {0x80000, 0x80000}, "user": {0x80000 + 1000, 0x80000 + 100}},
			creator:   0x80000,
			wantStore: [2]uint32{0, 0},
		},
		{
			name:      "host 1000 is container 5",
			bind:      Bind{Kind: BindCustom, Host: 1000, Container: 5, Size: 1},
			dirOwner:  [2]int{1000, 1000},
			files:     map[string][2]int{"mine": {1000, 1000}},
			wantSeen:  map[string][2]uint32{"mine": {0x80005, 0x80005}},
			creator:   0x80005,
			wantStore: [2]uint32{1000, 1000},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := openDir(t)
			src := mkdir(t, filepath.Join(dir, "src"), tc.dirOwner[0], tc.dirOwner[1])
			for name, o := range tc.files {
				p := filepath.Join(src, name)
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(p, o[0], o[1]); err != nil {
					t.Fatal(err)
				}
			}
			ms, err := BindMappings(r, tc.bind)
			if err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(dir, "mnt")
			idmount(t, src, target, ms)
			for name, want := range tc.wantSeen {
				if got := owner(t, filepath.Join(target, name)); got != want {
					t.Errorf("%s through the mount: %v, want %v", name, got, want)
				}
				o := tc.files[name]
				if got := owner(t, filepath.Join(src, name)); got != [2]uint32{uint32(o[0]), uint32(o[1])} {
					t.Errorf("%s on disk changed to %v", name, got)
				}
			}
			runAs(t, tc.creator, touch, filepath.Join(target, "new"))
			if got := owner(t, filepath.Join(src, "new")); got != tc.wantStore {
				t.Errorf("file created by host ID %#x stored as %v, want %v", tc.creator, got, tc.wantStore)
			}
		})
	}
}

func TestIntegrationUserNSBinds(t *testing.T) {
	testbed.RequireRoot(t)
	touch := testbed.RequireTool(t, "touch")
	lease, err := uidrange.New(testbed.Paths(t)).Acquire("binds")
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	r := lease.Range
	base := int(r.Base)
	dir := openDir(t)
	// A plain bind of a directory the machine owns, and an idmapped bind
	// of a directory host UID 1000 owns, mapped to the machine's root.
	plainSrc := mkdir(t, filepath.Join(dir, "plain-src"), base, base)
	plain := mkdir(t, filepath.Join(dir, "plain"), 0, 0)
	if err := unix.Mount(plainSrc, plain, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(plain, unix.MNT_DETACH) })
	idSrc := mkdir(t, filepath.Join(dir, "id-src"), 1000, 1000)
	ms, err := BindMappings(r, Bind{Kind: BindCustom, Host: 1000, Container: 0, Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	idmapped := filepath.Join(dir, "idmapped")
	idmount(t, idSrc, idmapped, ms)

	// Privileged: root creates in the plain bind, the file is 0:0.
	runAs(t, 0, touch, filepath.Join(plain, "privileged"))
	// Unprivileged: root of a user namespace with the machine's range.
	runInUserNS(t, RootMappings(r), touch, filepath.Join(plain, "unprivileged"), filepath.Join(idmapped, "mapped"))

	stat := testbed.RequireTool(t, "stat")
	inside := runInUserNS(t, RootMappings(r), stat, "-c", "%u:%g", filepath.Join(plain, "unprivileged"), filepath.Join(idmapped, "mapped"))
	if inside != "0:0\n0:0\n" {
		t.Errorf("inside the user namespace the files are owned by %q, want 0:0 each", inside)
	}
	tests := []struct {
		path string
		want [2]uint32
	}{
		{filepath.Join(plainSrc, "privileged"), [2]uint32{0, 0}},
		{filepath.Join(plainSrc, "unprivileged"), [2]uint32{r.Base, r.Base}},
		{filepath.Join(idSrc, "mapped"), [2]uint32{1000, 1000}},
	}
	for _, tc := range tests {
		if got := owner(t, tc.path); got != tc.want {
			t.Errorf("%s owned by %v on the host, want %v", tc.path, got, tc.want)
		}
	}
}

func TestIntegrationSupported(t *testing.T) {
	testbed.RequireRoot(t)
	tmpfs := t.TempDir()
	if err := unix.Mount("tmpfs", tmpfs, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(tmpfs, unix.MNT_DETACH) })
	tests := []struct {
		name string
		path string
		ok   bool
	}{
		{"disk", t.TempDir(), true},
		{"tmpfs", tmpfs, true},
		{"proc", "/proc", false},
		{"sysfs", "/sys", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Supported(tc.path, nil)
			if (err == nil) != tc.ok {
				t.Fatalf("Supported(%s) = %v, want ok %v", tc.path, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrUnsupported) {
				t.Errorf("error %v does not wrap ErrUnsupported", err)
			}
		})
	}
}

func TestIntegrationOpenUserNSOfProcess(t *testing.T) {
	testbed.RequireRoot(t)
	sleep := testbed.RequireTool(t, "sleep")
	r := uidrange.Range{Base: 0xD0000, Size: uidrange.Size}
	cmd := exec.Command(sleep, "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: procIDMaps(RootMappings(r)),
		GidMappings: procIDMaps(RootMappings(r)),
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	ns, err := OpenUserNS(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	dir := t.TempDir()
	src, target := filepath.Join(dir, "src"), filepath.Join(dir, "mnt")
	mkdir(t, src, 0, 0)
	mkdir(t, target, 0, 0)
	if err := Mount(src, target, ns, false); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(target, unix.MNT_DETACH)
	if got := owner(t, target); got != [2]uint32{r.Base, r.Base} {
		t.Errorf("idmapped through the process's namespace: owner %v, want %#x", got, r.Base)
	}
}
