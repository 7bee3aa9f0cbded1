//go:build linux

package inroot

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestReadFile builds a hostile root in a temp directory (no privileges
// needed): symlinks out of the root stay inside it, FIFOs and directories
// are refused without blocking, and the size limit holds.
func TestReadFile(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644))
	must(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "abs")))
	must(os.Symlink("../../../../../../../.."+outside+"/secret", filepath.Join(root, "up")))
	must(os.Symlink("/etc/passwd", filepath.Join(root, "inside")))
	must(syscall.Mkfifo(filepath.Join(root, "fifo"), 0o600))
	r, err := Open(root)
	must(err)
	defer r.Close()
	tests := []struct {
		name string
		want string
		err  error
	}{
		{"/etc/passwd", "root:x:0:0::/root:/bin/sh\n", nil},
		{"etc/passwd", "root:x:0:0::/root:/bin/sh\n", nil},
		{"/inside", "root:x:0:0::/root:/bin/sh\n", nil},
		{"/abs", "", syscall.ENOENT},
		{"/up", "", syscall.ENOENT},
		{"/../../../../" + outside + "/secret", "", syscall.ENOENT},
		{"/fifo", "", ErrNotRegular},
		{"/etc", "", ErrNotRegular},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadFile(r, tt.name, 1<<20)
			if !errors.Is(err, tt.err) || string(got) != tt.want {
				t.Errorf("ReadFile(%q) = %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.err)
			}
		})
	}
	if _, err := ReadFile(r, "/etc/passwd", 4); !errors.Is(err, ErrTooBig) {
		t.Errorf("ReadFile over the limit = %v, want ErrTooBig", err)
	}
	if _, err := OpenDir(r, "/abs"); err == nil {
		t.Error("OpenDir followed a symlink out of the root")
	}
	d, err := OpenDir(r, "/etc")
	must(err)
	d.Close()
}
