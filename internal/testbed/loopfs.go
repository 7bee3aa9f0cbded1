package testbed

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// LoopFS creates a file system of type fstype ("ext4", "btrfs") and size
// bytes in a file under a temp directory of t, loop-mounts it on a new
// directory and returns that directory. It is unmounted (lazily, so a
// leftover open file cannot make it stay) and its loop device detached
// when t ends. Needs root and mkfs.<fstype>.
func LoopFS(t testing.TB, fstype string, size int64) string {
	t.Helper()
	RequireRoot(t)
	mkfs := RequireTool(t, "mkfs."+fstype)
	dir := t.TempDir()
	img := filepath.Join(dir, fstype+".img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command(mkfs, "-q", img).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", mkfs, err, out)
	}
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		Unavailable(t, "loop mount: "+err.Error()+": "+string(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}
