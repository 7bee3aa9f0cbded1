package testbed

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/imagebuild"
)

// BusyboxImage builds a fresh busybox image in a temp directory of t and
// returns its path. The directory is removed when t ends.
func BusyboxImage(t testing.TB) string {
	t.Helper()
	RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "busybox")
	if err := imagebuild.Busybox(dir); err != nil {
		Unavailable(t, err.Error())
	}
	return dir
}

// DebianImage returns the cached Debian image, building it on the first
// call on this machine. The cache is shared: tests must not write to it; use
// CloneDebianImage for a private, writable copy.
func DebianImage(t testing.TB) string {
	t.Helper()
	RequireRoot(t)
	RequireTool(t, "debootstrap")
	path, _, err := imagebuild.Debian{}.Ensure()
	if err != nil {
		t.Fatalf("debian image: %v", err)
	}
	return path
}

// CloneDebianImage copies the cached Debian image into a temp directory of t
// (a reflink copy where the file system can) and returns the copy's path.
func CloneDebianImage(t testing.TB) string {
	t.Helper()
	src := DebianImage(t)
	dst := filepath.Join(t.TempDir(), "debian")
	out, err := exec.Command("cp", "-a", "--reflink=auto", src, dst).CombinedOutput()
	if err != nil {
		t.Fatalf("copy debian image: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dst) })
	return dst
}
