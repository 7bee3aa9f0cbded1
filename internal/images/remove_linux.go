package images

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// removeAt removes dir/name and, for a directory, everything below it,
// through descriptors only and without following symlinks. It clears
// immutable and append-only flags in its way, deletes btrfs subvolumes, and
// refuses to descend into another file system (a mount point gives EBUSY).
func removeAt(dir int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		err := unix.Unlinkat(dir, name, 0)
		if errors.Is(err, unix.EPERM) && st.Mode&unix.S_IFMT == unix.S_IFREG && clearFlagsAt(dir, name) {
			err = unix.Unlinkat(dir, name, 0)
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove %s: %w", name, err)
		}
		return nil
	}
	return removeDir(dir, name, &st)
}

// removeDir empties and removes the directory dir/name.
func removeDir(dir int, name string, st *unix.Stat_t) error {
	var parent unix.Stat_t
	if err := unix.Fstat(dir, &parent); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	fd, err := openAt(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK)
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	defer unix.Close(fd)
	if st.Dev != parent.Dev && !isSubvolumeFd(fd) {
		return fmt.Errorf("remove %s: a mount point: %w", name, unix.EBUSY)
	}
	clearFlags(fd)
	if isSubvolumeFd(fd) {
		_ = setSubvolReadOnly(fd, false)
		dropSubtreeQgroup(fd)
		if err := destroySubvolume(dir, name); err == nil {
			return nil
		}
	}
	names, err := readDirNames(fd, make([]byte, 16<<10))
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	for _, n := range names {
		if err := removeAt(fd, n); err != nil {
			return fmt.Errorf("%s/%w", name, err)
		}
	}
	if err := kernel.Retry("unlinkat", func() error { return unix.Unlinkat(dir, name, unix.AT_REMOVEDIR) }); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// isSubvolumeFd reports whether the directory fd is a btrfs subvolume.
func isSubvolumeFd(fd int) bool {
	var sfs unix.Statfs_t
	return unix.Fstatfs(fd, &sfs) == nil && isSubvolume(fd, &sfs)
}

// clearFlags clears the immutable and append-only flags of fd; it reports
// whether any was set.
func clearFlags(fd int) bool {
	f, err := unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS)
	if err != nil || f&(fsImmutableFL|fsAppendFL) == 0 {
		return false
	}
	return unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, f&^(fsImmutableFL|fsAppendFL)) == nil
}

// clearFlagsAt clears the flags of the regular file dir/name.
func clearFlagsAt(dir int, name string) bool {
	fd, err := openAt(dir, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return clearFlags(fd)
}

// setImmutable sets or clears FS_IMMUTABLE_FL on fd.
func setImmutable(fd int, on bool) error {
	f, err := unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return fmt.Errorf("get inode flags: %w", err)
	}
	nf := f &^ fsImmutableFL
	if on {
		nf |= fsImmutableFL
	}
	if nf == f {
		return nil
	}
	if err := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, nf); err != nil {
		return fmt.Errorf("set inode flags: %w", err)
	}
	return nil
}
