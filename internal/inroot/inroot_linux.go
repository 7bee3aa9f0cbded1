//go:build linux

package inroot

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// ErrNotRegular is returned for a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooBig is returned for a file larger than the caller's limit.
var ErrTooBig = errors.New("file too big")

// Open opens the directory path for use as a root with ReadFile.
func Open(path string) (*os.File, error) {
	fd, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("open root: %w", err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// ReadFile reads name (relative to root, or absolute meaning the root's
// own /) inside root, at most max bytes of a regular file. Symlinks are
// followed as if root were "/".
func ReadFile(root *os.File, name string, max int64) ([]byte, error) {
	return readFile(root, name, max, 0)
}

// ReadFileNoFollow is ReadFile for a name whose last component must not
// be a symlink: one fails with ELOOP.
func ReadFileNoFollow(root *os.File, name string, max int64) ([]byte, error) {
	return readFile(root, name, max, unix.O_NOFOLLOW)
}

func readFile(root *os.File, name string, max int64, flags uint64) ([]byte, error) {
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY | flags,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := openat2(root, name, &how)
	if err != nil {
		return nil, fmt.Errorf("read %s in root: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s in root: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s in root: %w", name, ErrNotRegular)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s in root: %w", name, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("read %s in root: %w (limit %d bytes)", name, ErrTooBig, max)
	}
	return data, nil
}

// OpenDir opens the directory name inside root for reading and for
// creating entries (mkdirat, openat with O_CREAT|O_EXCL).
func OpenDir(root *os.File, name string) (*os.File, error) {
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := openat2(root, name, &how)
	if err != nil {
		return nil, fmt.Errorf("open directory %s in root: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// openat2 opens name below root with how (kernel.Openat2: EINTR and
// EAGAIN are retried).
func openat2(root *os.File, name string, how *unix.OpenHow) (int, error) {
	return kernel.Openat2(int(root.Fd()), name, how)
}
