package nspawnsettings

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// load opens dir, then name inside it, and parses the file. A missing
// directory or file is ErrNotFound.
func load(dir, name string, trusted bool) (*File, error) {
	dfd, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("open settings directory %s: %w", dir, err)
	}
	defer unix.Close(dfd)
	fd, err := kernel.RetryInt("openat", func() (int, error) {
		return unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	})
	if errors.Is(err, unix.ENOENT) {
		return nil, ErrNotFound
	}
	path := filepath.Join(dir, name)
	if err != nil {
		return nil, fmt.Errorf("open settings %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat settings %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, &ParseError{File: path, Err: invalid("not a regular file")}
	}
	s, warns, err := ReadFrom(f, path)
	if err != nil {
		return nil, err
	}
	return &File{Path: path, Trusted: trusted, Settings: s, Warnings: warns}, nil
}
