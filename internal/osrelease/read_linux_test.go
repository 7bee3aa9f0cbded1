//go:build linux

package osrelease

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRead builds hostile roots in temp directories: no privileges needed.
func TestRead(t *testing.T) {
	outside := t.TempDir()
	write(t, filepath.Join(outside, "os-release"), "ID=host-secret\n")
	tests := []struct {
		name  string
		setup func(t *testing.T, root string)
		want  map[string]string
		fails bool
	}{
		{"etc", func(t *testing.T, r string) { write(t, filepath.Join(r, "etc/os-release"), "ID=etc\n") },
			map[string]string{"ID": "etc"}, false},
		{"usr fallback", func(t *testing.T, r string) { write(t, filepath.Join(r, "usr/lib/os-release"), "ID=usr\n") },
			map[string]string{"ID": "usr"}, false},
		{"relative symlink as on debian", func(t *testing.T, r string) {
			write(t, filepath.Join(r, "usr/lib/os-release"), "ID=linked\n")
			link(t, "../usr/lib/os-release", filepath.Join(r, "etc/os-release"))
		}, map[string]string{"ID": "linked"}, false},
		{"absolute symlink stays in root", func(t *testing.T, r string) {
			link(t, filepath.Join(outside, "os-release"), filepath.Join(r, "etc/os-release"))
		}, nil, true},
		{"dotdot symlink stays in root", func(t *testing.T, r string) {
			link(t, "../../../../../../../../"+outside+"/os-release", filepath.Join(r, "etc/os-release"))
		}, nil, true},
		{"fifo refused without blocking", func(t *testing.T, r string) {
			mkdir(t, filepath.Join(r, "etc"))
			if err := syscall.Mkfifo(filepath.Join(r, "etc/os-release"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, nil, true},
		{"directory refused", func(t *testing.T, r string) { mkdir(t, filepath.Join(r, "etc/os-release")) }, nil, true},
		{"missing", func(t *testing.T, r string) {}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tt.setup(t, root)
			got, err := Read(root)
			if tt.fails != (err != nil) {
				t.Fatalf("Read error = %v, want failure %v (got %v)", err, tt.fails, got)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Read (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadMissingIsNotFound(t *testing.T) {
	if _, err := Read(t.TempDir()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read of an empty root = %v, want ErrNotFound", err)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	mkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, path string) {
	t.Helper()
	mkdir(t, filepath.Dir(path))
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}
