//go:build linux

package treecopy

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// ErrExists is returned when the destination exists and Options.Replace
// is not set.
var ErrExists = errors.New("destination exists")

// MaxDepth bounds directory nesting.
const MaxDepth = 256

// Options tune a copy.
type Options struct {
	// Replace removes an existing non-directory destination first.
	Replace bool
	// UID and GID, when Chown is set, own every created entry.
	Chown    bool
	UID, GID int
	// KeepSetID keeps setuid and setgid bits.
	KeepSetID bool
}

// Copy copies entry srcName of srcDir to dstName in dstDir.
func Copy(srcDir *os.File, srcName string, dstDir *os.File, dstName string, o Options) error {
	var st unix.Stat_t
	if err := unix.Fstatat(int(dstDir.Fd()), dstName, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if !o.Replace || st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return fmt.Errorf("copy to %s: %w", dstName, ErrExists)
		}
		if err := unix.Unlinkat(int(dstDir.Fd()), dstName, 0); err != nil {
			return fmt.Errorf("copy: replace %s: %w", dstName, err)
		}
	}
	return copyEntry(srcDir, srcName, dstDir, dstName, o, 0)
}

func copyEntry(srcDir *os.File, srcName string, dstDir *os.File, dstName string, o Options, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("copy %s: deeper than %d levels", srcName, MaxDepth)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(int(srcDir.Fd()), srcName, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("copy %s: %w", srcName, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return copyFile(srcDir, srcName, dstDir, dstName, o)
	case unix.S_IFDIR:
		return copyDir(srcDir, srcName, dstDir, dstName, o, depth)
	case unix.S_IFLNK:
		return copySymlink(srcDir, srcName, dstDir, dstName, o)
	case unix.S_IFIFO:
		if err := unix.Mkfifoat(int(dstDir.Fd()), dstName, mode(st.Mode, o)); err != nil {
			return fmt.Errorf("copy fifo %s: %w", srcName, err)
		}
		return chown(dstDir, dstName, o)
	}
	return nil // devices and sockets are not copied
}

func mode(m uint32, o Options) uint32 {
	m &= 0o7777
	if !o.KeepSetID {
		m &^= unix.S_ISUID | unix.S_ISGID
	}
	return m
}

func openAt(dir *os.File, name string, flags int, perm uint32) (*os.File, error) {
	fd, err := kernel.RetryInt("openat", func() (int, error) {
		return unix.Openat(int(dir.Fd()), name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, perm)
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func copyFile(srcDir *os.File, srcName string, dstDir *os.File, dstName string, o Options) error {
	src, err := openAt(srcDir, srcName, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("copy %s: %w", srcName, err)
	}
	defer src.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("copy %s: changed while copying", srcName)
	}
	dst, err := openAt(dstDir, dstName, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("copy to %s: %w", dstName, err)
	}
	defer dst.Close()
	if err := copyContent(dst, src, st.Size); err != nil {
		return fmt.Errorf("copy %s: %w", srcName, err)
	}
	return finish(dst, src, st.Mode, o)
}

// finish sets owner, then mode (chown clears setuid bits), then the
// extended attributes of src (ACLs last, so their mask is what src has;
// file capabilities after chown, which drops them) on an open entry.
func finish(f, src *os.File, m uint32, o Options) error {
	if o.Chown {
		if err := unix.Fchown(int(f.Fd()), o.UID, o.GID); err != nil {
			return fmt.Errorf("chown %s: %w", f.Name(), err)
		}
	}
	if err := unix.Fchmod(int(f.Fd()), mode(m, o)); err != nil {
		return fmt.Errorf("chmod %s: %w", f.Name(), err)
	}
	return copyXattrs(f, src, o)
}

func copyDir(srcDir *os.File, srcName string, dstDir *os.File, dstName string, o Options, depth int) error {
	src, err := openAt(srcDir, srcName, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("copy %s: %w", srcName, err)
	}
	defer src.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil {
		return fmt.Errorf("copy %s: %w", srcName, err)
	}
	if err := unix.Mkdirat(int(dstDir.Fd()), dstName, 0o700); err != nil {
		return fmt.Errorf("copy to %s: %w", dstName, err)
	}
	dst, err := openAt(dstDir, dstName, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("copy to %s: %w", dstName, err)
	}
	defer dst.Close()
	names, err := src.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("copy %s: %w", srcName, err)
	}
	for _, n := range names {
		if err := copyEntry(src, n, dst, n, o, depth+1); err != nil {
			return err
		}
	}
	return finish(dst, src, st.Mode, o)
}

func copySymlink(srcDir *os.File, srcName string, dstDir *os.File, dstName string, o Options) error {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(int(srcDir.Fd()), srcName, buf)
	if err != nil {
		return fmt.Errorf("copy symlink %s: %w", srcName, err)
	}
	if err := unix.Symlinkat(string(buf[:n]), int(dstDir.Fd()), dstName); err != nil {
		return fmt.Errorf("copy symlink to %s: %w", dstName, err)
	}
	return chown(dstDir, dstName, o)
}

func chown(dir *os.File, name string, o Options) error {
	if !o.Chown {
		return nil
	}
	if err := unix.Fchownat(int(dir.Fd()), name, o.UID, o.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s: %w", name, err)
	}
	return nil
}
