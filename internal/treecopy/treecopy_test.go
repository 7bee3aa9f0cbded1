//go:build linux

package treecopy

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mkTree(t *testing.T, root string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "tree/sub"), 0o755))
	must(os.WriteFile(filepath.Join(root, "tree/file"), []byte("data"), 0o644))
	must(os.WriteFile(filepath.Join(root, "tree/sub/suid"), []byte("x"), 0o4755))
	must(os.Chmod(filepath.Join(root, "tree/sub/suid"), 0o4755))
	must(os.Symlink("/etc/shadow", filepath.Join(root, "tree/shadow")))
	must(syscall.Mkfifo(filepath.Join(root, "tree/fifo"), 0o600))
}

func dir(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestCopy copies a tree with a symlink out, a FIFO and a setuid file:
// the symlink stays a symlink, the FIFO is not read, setuid is dropped.
func TestCopy(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	mkTree(t, src)
	if err := Copy(dir(t, src), "tree", dir(t, dst), "copy", Options{}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dst, "copy/file"))
	if err != nil || string(data) != "data" {
		t.Errorf("file = %q, %v", data, err)
	}
	target, err := os.Readlink(filepath.Join(dst, "copy/shadow"))
	if diff := cmp.Diff("/etc/shadow", target); diff != "" || err != nil {
		t.Errorf("symlink (-want +got): %s %v", diff, err)
	}
	if fi, err := os.Lstat(filepath.Join(dst, "copy/fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("fifo = %v, %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "copy/sub/suid")); err != nil || fi.Mode()&os.ModeSetuid != 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("setuid file mode = %v, %v", fi.Mode(), err)
	}
}

func TestCopyExists(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	mkTree(t, src)
	if err := os.WriteFile(filepath.Join(dst, "file"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Copy(dir(t, filepath.Join(src, "tree")), "file", dir(t, dst), "file", Options{}); !errors.Is(err, ErrExists) {
		t.Fatalf("Copy onto an existing file = %v, want ErrExists", err)
	}
	if err := Copy(dir(t, filepath.Join(src, "tree")), "file", dir(t, dst), "file", Options{Replace: true}); err != nil {
		t.Fatalf("Copy with Replace = %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dst, "file")); string(data) != "data" {
		t.Errorf("replaced file = %q", data)
	}
	if err := Copy(dir(t, src), "tree", dir(t, src), "tree", Options{Replace: true}); !errors.Is(err, ErrExists) {
		t.Errorf("Copy onto an existing directory with Replace = %v, want ErrExists", err)
	}
}
