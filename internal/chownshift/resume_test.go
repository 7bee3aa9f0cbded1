package chownshift

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/google/go-cmp/cmp"
)

// childEnv makes the test binary shift the tree named by the variable to
// the base in childEnv_TO, print "started" and stop there, waiting to be
// killed: after the first progress report, or right after the chown of the
// entry named in childEnv_STOP.
const childEnv = "BERTH_CHOWNSHIFT_CHILD"

func TestMain(m *testing.M) {
	if root := os.Getenv(childEnv); root != "" {
		os.Exit(child(root))
	}
	os.Exit(m.Run())
}

func child(root string) int {
	to, _ := strconv.ParseUint(os.Getenv(childEnv+"_TO"), 0, 32)
	stop := func() {
		fmt.Println("started")
		select {}
	}
	opts := Options{Progress: func(Progress) { stop() }}
	if name := os.Getenv(childEnv + "_STOP"); name != "" {
		opts = Options{afterChown: func(p string) {
			if p == name {
				stop()
			}
		}}
	}
	_, err := Shift(root, uint32(to), opts)
	fmt.Println("finished:", err)
	return 1
}

// killHalfWay runs a shift of root to base in a child process and kills it
// with SIGKILL where childEnv says (extra variables in env).
func killHalfWay(t *testing.T, root string, base uint32, env ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+root, fmt.Sprintf("%s_TO=%d", childEnv, base)), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	_ = cmd.Process.Signal(unix.SIGKILL)
	_ = cmd.Wait()
	if line != "started\n" {
		t.Fatalf("child said %q", line)
	}
	if state, err := Detect(root); err != nil || !state.Busy {
		t.Fatalf("after SIGKILL: state %+v, %v; want busy", state, err)
	}
}

// countOwners counts the entries below root (root excluded) by owner.
func countOwners(t *testing.T, root string) map[uint32]int {
	t.Helper()
	out := map[uint32]int{}
	err := filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		out[st.Uid]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIntegrationShiftKilledIsCompleted(t *testing.T) {
	testbed.RequireRoot(t)
	// tmpfs: making 100,000 inodes on a busy disk takes far longer than
	// the test is about.
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "mode=0755,nr_inodes=0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(root, unix.MNT_DETACH) })
	const dirs, files, base = 100, 1000, 0xA0000
	testbed.ManyFiles(t, root, dirs, files)
	killHalfWay(t, root, base)
	half := countOwners(t, root)
	if half[base] == 0 || half[0] == 0 {
		t.Fatalf("kill did not land half way: owners %v", half)
	}
	res, err := Shift(root, base, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || !res.Changed || res.From != BusyBase {
		t.Errorf("result %+v, want a resumed shift", res)
	}
	if got := countOwners(t, root); len(got) != 1 || got[base] != dirs*(files+1) {
		t.Errorf("owners after completion: %v, want all %d entries at %#x", got, dirs*(files+1), base)
	}
	if state, err := Detect(root); err != nil || state != (State{Shift: base}) {
		t.Errorf("final state %+v, %v", state, err)
	}
}

func TestIntegrationShiftKilledAfterChownKeepsSetuidAndCaps(t *testing.T) {
	testbed.RequireRoot(t)
	dir := t.TempDir()
	root, outside := filepath.Join(dir, "tree"), filepath.Join(dir, "outside")
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	buildTree(t, root, outside)
	before := manifest(t, root)
	const base = 0xB0000
	killHalfWay(t, root, base, childEnv+"_STOP=suidcap")
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "suidcap"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != base || st.Mode&unix.S_ISUID != 0 {
		t.Fatalf("kill did not land between chown and restore: uid %#x mode %o", st.Uid, st.Mode)
	}
	if _, err := Shift(root, base, Options{}); err != nil {
		t.Fatal(err)
	}
	got := manifest(t, root)["suidcap"]
	want := before["suidcap"]
	if got.Mode != want.Mode || got.Xattrs[xattrCaps] != want.Xattrs[xattrCaps] {
		t.Errorf("suidcap after completion: mode %o caps %q; want %o %q", got.Mode, got.Xattrs[xattrCaps], want.Mode, want.Xattrs[xattrCaps])
	}
	if _, err := Shift(root, 0, Options{}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, manifest(t, root)); d != "" {
		t.Errorf("manifest after kill, completion and undo (-before +after):\n%s", d)
	}
}
