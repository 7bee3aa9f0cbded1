package images

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// Lock is an exclusive hold on an image: while a Lock is held, Remove and
// Rename of the image fail with ErrBusy, in this and every other process
// using the same paths.Run. The spawner (or the daemon) holds one for as
// long as a machine runs from the image.
type Lock struct {
	f *os.File
}

// Release drops the lock. It is safe to call more than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Lock takes the image's lock without waiting; ErrBusy if it is held.
func (m *Manager) Lock(img Image) (*Lock, error) { return m.LockPath(img.Path) }

// LockPath locks the image at path (a directory, raw file or block device,
// symlinks followed) without waiting; ErrBusy if it is held. The lock is
// keyed by device and inode, so it follows the image across renames and
// covers every name of it. Needs write access to paths.Run.
func (m *Manager) LockPath(path string) (*Lock, error) {
	var st unix.Stat_t
	if err := kernel.Retry("stat", func() error { return unix.Stat(path, &st) }); err != nil {
		return nil, fmt.Errorf("lock image %s: %w", path, err)
	}
	name := "inode-" + strconv.FormatUint(st.Dev, 10) + ":" + strconv.FormatUint(st.Ino, 10)
	l, err := m.lockFile(name, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		return nil, fmt.Errorf("lock image %s: %w", path, err)
	}
	return l, nil
}

// nameLock serialises operations that create the image name (rename and
// clone targets), waiting for other holders.
func (m *Manager) nameLock(name string) (*Lock, error) {
	l, err := m.lockFile("name-"+name, unix.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("lock image name %s: %w", name, err)
	}
	return l, nil
}

// lockFile opens Run/locks/name and flocks it with how. The directory is
// made only when the open finds it missing (once per boot).
func (m *Manager) lockFile(name string, how int) (*Lock, error) {
	dir := filepath.Join(m.paths.Run, "locks")
	open := func() (int, error) {
		return kernel.RetryInt("open", func() (int, error) {
			return unix.Open(filepath.Join(dir, name), unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		})
	}
	fd, err := open()
	if errors.Is(err, unix.ENOENT) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		fd, err = open()
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	if err := kernel.Retry("flock", func() error { return unix.Flock(fd, how) }); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrBusy
		}
		return nil, err
	}
	return &Lock{f: f}, nil
}
