//go:build linux

package osrelease

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/inroot"
)

// Read reads and parses the os-release file below the root directory at
// path root. Symlinks resolve as if root were "/".
func Read(root string) (map[string]string, error) {
	f, err := inroot.Open(root)
	if err != nil {
		return nil, fmt.Errorf("read os-release: %w", err)
	}
	defer f.Close()
	return ReadAt(f)
}

// ReadAt is Read for an already open root directory (any open mode,
// O_PATH included).
func ReadAt(root *os.File) (map[string]string, error) {
	for _, name := range Candidates {
		data, err := inroot.ReadFile(root, name, MaxSize)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read os-release: %w", err)
		}
		return Parse(data)
	}
	return nil, fmt.Errorf("read os-release: %w", ErrNotFound)
}
