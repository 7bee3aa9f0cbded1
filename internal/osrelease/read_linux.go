//go:build linux

package osrelease

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// Read reads and parses the os-release file below the root directory at
// path root. Symlinks resolve as if root were "/".
func Read(root string) (map[string]string, error) {
	fd, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("read os-release: %w", err)
	}
	f := os.NewFile(uintptr(fd), root)
	defer f.Close()
	return ReadAt(f)
}

// ReadAt is Read for an already open root directory (any open mode,
// O_PATH included).
func ReadAt(root *os.File) (map[string]string, error) {
	for _, name := range Candidates {
		data, err := readInRoot(root, name)
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

// readInRoot opens name below root without leaving it and reads at most
// MaxSize bytes of a regular file.
func readInRoot(root *os.File, name string) ([]byte, error) {
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := kernel.RetryInt("openat2", func() (int, error) {
		return unix.Openat2(int(root.Fd()), name, &how)
	})
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s exceeds %d bytes", name, MaxSize)
	}
	return data, nil
}
