package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// ManyFiles creates dirs directories named d000, d001, ... below root, each
// holding files empty regular files (mode 0644, owned by the caller), with
// mknodat, the quickest way to make many inodes. Trees of 100,000 files
// take a second or two.
func ManyFiles(t testing.TB, root string, dirs, files int) {
	t.Helper()
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		for f := range files {
			if err := unix.Mknodat(fd, "f"+strconv.Itoa(f), unix.S_IFREG|0o644, 0); err != nil {
				unix.Close(fd)
				t.Fatalf("create %s/f%d: %v", dir, f, err)
			}
		}
		unix.Close(fd)
	}
}
