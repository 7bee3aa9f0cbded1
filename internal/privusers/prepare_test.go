package privusers

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/chownshift"
	"github.com/berth-dev/berth/internal/idmap"
	"github.com/berth-dev/berth/internal/testbed"
)

func ownerAt(t *testing.T, p string) uint32 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid
}

func TestIntegrationPrepareMap(t *testing.T) {
	image := testbed.BusyboxImage(t)
	p := testbed.Paths(t)
	pick := Users{Mode: ModePick, Range: RangeSize}
	prep, err := Prepare(Config{Paths: p, Machine: "mapped", Root: image, Users: pick})
	if err != nil {
		t.Fatal(err)
	}
	defer prep.Release()
	if prep.Ownership != OwnershipMap {
		t.Fatalf("auto chose %v (%s), want map on this file system", prep.Ownership, prep.Reason)
	}
	target := t.TempDir()
	if err := prep.MountRoot(target); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(target, unix.MNT_DETACH)
	if got := ownerAt(t, filepath.Join(target, "bin")); got != prep.Range.Base {
		t.Errorf("bin through the idmapped root owned by %d, want %d", got, prep.Range.Base)
	}
	if got := ownerAt(t, filepath.Join(image, "bin")); got != 0 {
		t.Errorf("bin on disk owned by %d, want 0", got)
	}
	if got := prep.Mappings(); len(got) != 1 || got[0].Outer != prep.Range.Base || got[0].Inner != 0 {
		t.Errorf("machine mappings %v", got)
	}
}

func TestIntegrationPrepareChownRestartUndo(t *testing.T) {
	image := testbed.BusyboxImage(t)
	p := testbed.Paths(t)
	cfg := Config{Paths: p, Machine: "chowned", Root: image, Users: Users{Mode: ModePick, Range: RangeSize}, Ownership: OwnershipChown}
	first, err := Prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := first.Range
	if first.Ownership != OwnershipChown || !first.Shift.Changed || ownerAt(t, filepath.Join(image, "bin")) != r.Base {
		t.Fatalf("first start: %+v", first)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	// Restart with the default (auto) ownership: same range, nothing to do.
	cfg.Ownership = OwnershipDefault
	again, err := Prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.Range != r || again.Ownership != OwnershipOff {
		t.Errorf("restart: range %v ownership %v (%s); want %v, off", again.Range, again.Ownership, again.Reason, r)
	}
	again.Release()
	// yes: the shift comes from the image.
	yes, err := Prepare(Config{Paths: p, Machine: "other", Root: image, Users: Users{Mode: ModeYes, Range: RangeSize}})
	if err != nil {
		t.Fatal(err)
	}
	if yes.Range != r {
		t.Errorf("--private-users=yes took %v, want the image's %v", yes.Range, r)
	}
	yes.Release()
	// Undo: --private-users=0 --private-users-chown.
	undo, err := Prepare(Config{Paths: p, Machine: "chowned", Root: image, Users: Users{Mode: ModeFixed, Range: RangeSize}, Ownership: OwnershipChown})
	if err != nil {
		t.Fatal(err)
	}
	undo.Release()
	if st, err := chownshift.Detect(image); err != nil || st != (chownshift.State{}) {
		t.Errorf("after undo: %+v, %v", st, err)
	}
}

func TestIntegrationPrepareRejectsBeforeChanges(t *testing.T) {
	testbed.RequireRoot(t)
	image := t.TempDir()
	p := testbed.Paths(t)
	_, err := Prepare(Config{Paths: p, Machine: "ro", Root: image, Users: Users{Mode: ModePick, Range: RangeSize}, Ownership: OwnershipChown, ReadOnly: true})
	if err == nil {
		t.Fatal("chown with --read-only accepted")
	}
	if ownerAt(t, image) != 0 {
		t.Error("image changed by a rejected setup")
	}
	if ents, _ := os.ReadDir(p.State); len(ents) != 0 {
		t.Errorf("state written by a rejected setup: %v", ents)
	}
	a, err := Prepare(Config{Paths: p, Machine: "a", Root: image, Users: Users{Mode: ModeFixed, Shift: 0x100000, Range: RangeSize}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	if _, err := Prepare(Config{Paths: p, Machine: "b", Root: image, Users: Users{Mode: ModeFixed, Shift: 0x108000, Range: RangeSize}}); err == nil {
		t.Error("overlapping explicit range accepted")
	}
}

func TestIntegrationPrepareMountBind(t *testing.T) {
	testbed.RequireRoot(t)
	p := testbed.Paths(t)
	image := t.TempDir()
	prep, err := Prepare(Config{Paths: p, Machine: "binds", Root: image, Users: Users{Mode: ModePick, Range: RangeSize}, Ownership: OwnershipOff})
	if err != nil {
		t.Fatal(err)
	}
	defer prep.Release()
	base := prep.Range.Base
	tests := []struct {
		opt      string
		owner    int    // of the source directory on the host
		wantSeen uint32 // its owner through the bind
	}{
		{"idmap", 0, base},
		{"rootidmap", 1000, base},
		{"idmap=2000:7", 2000, base + 7},
	}
	for _, tc := range tests {
		t.Run(tc.opt, func(t *testing.T) {
			b, ok, err := ParseBindOption(tc.opt)
			if err != nil || !ok {
				t.Fatalf("ParseBindOption: %v %v", ok, err)
			}
			src, dst := t.TempDir(), t.TempDir()
			if err := os.Chown(src, tc.owner, tc.owner); err != nil {
				t.Fatal(err)
			}
			if err := prep.MountBind(src, dst, b); err != nil {
				t.Fatal(err)
			}
			defer unix.Unmount(dst, unix.MNT_DETACH)
			if got := ownerAt(t, dst); got != tc.wantSeen {
				t.Errorf("bind source owned by %d seen as %d, want %d", tc.owner, got, tc.wantSeen)
			}
		})
	}
	if err := prep.MountBind(t.TempDir(), t.TempDir(), idmap.Bind{Kind: idmap.BindPlain}); err == nil {
		t.Error("MountBind of a plain bind accepted")
	}
}
