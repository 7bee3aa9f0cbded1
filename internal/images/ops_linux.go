package images

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/nspawnsettings"
)

// Rename renames an image within its directory, and its NAME.nspawn files
// (in the trusted settings directories and next to the image). It fails
// with ErrExists if newName is taken anywhere, ErrBusy while the image is
// locked, ErrReadOnly for vendor images and .host. A symlink entry is
// renamed itself. An immutable directory is unlocked for the rename and
// locked again after, also when the rename fails.
func (m *Manager) Rename(name, newName string) error {
	img, unlockName, err := m.prepareTarget("rename", name, newName)
	if err != nil {
		return err
	}
	defer unlockName()
	if err := mutable(img); err != nil {
		return opError("rename", name, err)
	}
	lk, err := m.Lock(img)
	if err != nil {
		return opError("rename", name, err)
	}
	defer lk.Release()
	dir, base := filepath.Split(img.Path)
	newBase := entryName(newName, img.Type)
	dfd, err := openAt(unix.AT_FDCWD, dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return opError("rename", name, err)
	}
	defer unix.Close(dfd)
	if !img.Symlink {
		restore, err := unfreeze(dfd, base)
		if err != nil {
			return opError("rename", name, err)
		}
		defer restore()
	}
	if err := renameNoReplace(dfd, base, dfd, newBase); err != nil {
		return opError("rename", name, err)
	}
	m.moveSettings(filepath.Clean(dir), name, newName)
	return nil
}

// Remove deletes an image and its NAME.nspawn files. A symlink entry is
// unlinked, never followed. It fails with ErrBusy while the image is
// locked and ErrReadOnly for vendor images and .host; immutable flags and
// btrfs read-only flags are cleared on the way.
func (m *Manager) Remove(name string) error {
	img, err := m.Find(name)
	if err != nil {
		return opError("remove", name, err)
	}
	if err := mutable(img); err != nil {
		return opError("remove", name, err)
	}
	lk, err := m.Lock(img)
	if err != nil {
		return opError("remove", name, err)
	}
	defer lk.Release()
	dir, base := filepath.Split(img.Path)
	dfd, err := openAt(unix.AT_FDCWD, dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return opError("remove", name, err)
	}
	defer unix.Close(dfd)
	if img.Symlink {
		err = kernel.Retry("unlinkat", func() error { return unix.Unlinkat(dfd, base, 0) })
	} else {
		err = removeAt(dfd, base)
	}
	if err != nil {
		return opError("remove", name, err)
	}
	for _, p := range m.settingsPaths(filepath.Clean(dir), name) {
		_ = os.Remove(p)
	}
	return nil
}

// MarkReadOnly makes an image read-only (ro) or writable: the btrfs
// read-only flag for subvolumes, the immutable flag for directories, the
// write bits for raw files. ErrReadOnly for vendor images and .host,
// ErrSymlink for a symlink entry, ErrNotSupported for block devices.
func (m *Manager) MarkReadOnly(name string, ro bool) error {
	img, err := m.Find(name)
	if err != nil {
		return opError("mark read-only", name, err)
	}
	if err := mutable(img); err != nil {
		return opError("mark read-only", name, err)
	}
	if img.Symlink {
		return opError("mark read-only", name, ErrSymlink)
	}
	return opError("mark read-only", name, markReadOnly(img, ro))
}

func markReadOnly(img Image, ro bool) error {
	flags := unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY
	if img.Type != Raw {
		flags |= unix.O_DIRECTORY
	}
	fd, err := openAt(unix.AT_FDCWD, img.Path, flags)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	switch img.Type {
	case Subvolume:
		return setSubvolReadOnly(fd, ro)
	case Directory:
		return setImmutable(fd, ro)
	case Raw:
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		mode := st.Mode & 0o7777 &^ 0o222
		if !ro {
			mode |= 0o200
		}
		return kernel.Retry("fchmod", func() error { return unix.Fchmod(fd, mode) })
	}
	return ErrNotSupported
}

// Clean removes images: all of them (CleanAll) or the hidden ones
// (CleanHidden). Vendor images, .host and busy images are kept. It returns
// what it removed.
func (m *Manager) Clean(mode CleanMode) ([]Removed, error) {
	if mode != CleanAll && mode != CleanHidden {
		return nil, fmt.Errorf("clean images: mode %q is not all or hidden: %w", mode, names.ErrInvalid)
	}
	imgs, err := m.List()
	if err != nil {
		return nil, err
	}
	var out []Removed
	for _, img := range imgs {
		if img.IsHost() || img.vendor || mode == CleanHidden && !img.Hidden() {
			continue
		}
		err := m.Remove(img.Name)
		if errors.Is(err, ErrBusy) {
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, Removed{Name: img.Name, UsageExclusive: img.UsageExclusive})
	}
	return out, m.removeTemporaries()
}

// removeTemporaries deletes ".#" clone temporaries left in the pool by a
// clone that died (kill -9, power loss). A clone in progress holds its
// target name's lock, so its temporary is kept.
func (m *Manager) removeTemporaries() error {
	ents, err := os.ReadDir(m.paths.Pool)
	if err != nil {
		return nil // no pool, nothing to clean
	}
	pool, err := openAt(unix.AT_FDCWD, m.paths.Pool, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("clean temporaries: %w", err)
	}
	defer unix.Close(pool)
	for _, e := range ents {
		name, ok := tempTarget(e.Name())
		if !ok {
			continue
		}
		lk, err := m.lockFile("name-"+name, unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			continue // a clone is running
		}
		err = removeAt(pool, e.Name())
		lk.Release()
		if err != nil {
			return fmt.Errorf("clean temporaries: %w", err)
		}
	}
	return nil
}

// SetLimit sets the size limit (referenced bytes; Unknown removes it) of a
// btrfs subvolume image through its subtree quota group (created when
// missing, and made part of the pool's, see SetPoolLimit). Other image
// types, and subvolumes on a file system without quotas enabled, give
// ErrNotSupported; vendor images and .host ErrReadOnly.
func (m *Manager) SetLimit(name string, limit uint64) error {
	img, err := m.Find(name)
	if err != nil {
		return opError("set limit of", name, err)
	}
	if err := mutable(img); err != nil {
		return opError("set limit of", name, err)
	}
	if img.Type != Subvolume {
		return opError("set limit of", name, ErrNotSupported)
	}
	return opError("set limit of", name, withDir(img.Path, func(fd int) error {
		q, err := subtreeQgroup(fd, imageQgroupLevel)
		if err != nil {
			return err
		}
		if filepath.Dir(img.Path) == filepath.Clean(m.paths.Pool) {
			if err := withDir(m.paths.Pool, func(pool int) error { return joinPoolQgroup(pool, fd) }); err != nil {
				return err
			}
		}
		return limitQgroup(fd, q, limit)
	}))
}

// SetPoolLimit limits the size of the pool, its images included, when the
// pool is a btrfs subvolume with quotas enabled (otherwise
// ErrNotSupported): the limit is on the pool's subtree quota group, which
// holds the pool's own group and every subvolume image in it (images
// cloned later join it).
func (m *Manager) SetPoolLimit(limit uint64) error {
	err := withDir(m.paths.Pool, func(fd int) error {
		if !isSubvolumeFd(fd) {
			return ErrNotSupported
		}
		q, err := subtreeQgroup(fd, poolQgroupLevel)
		if err != nil {
			return err
		}
		if err := m.joinPoolImages(fd); err != nil {
			return err
		}
		return limitQgroup(fd, q, limit)
	})
	if err != nil {
		return fmt.Errorf("set pool limit: %w", err)
	}
	return nil
}

// joinPoolImages puts every subvolume image of the pool into the pool's
// subtree quota group.
func (m *Manager) joinPoolImages(pool int) error {
	imgs, err := m.List()
	if err != nil {
		return err
	}
	for _, img := range imgs {
		if img.Type != Subvolume || filepath.Dir(img.Path) != filepath.Clean(m.paths.Pool) {
			continue
		}
		if err := withDir(img.Path, func(fd int) error { return joinPoolQgroup(pool, fd) }); err != nil {
			return fmt.Errorf("image %s: %w", img.Name, err)
		}
	}
	return nil
}

// PoolUsage returns the pool's usage and limit in bytes from its btrfs
// quota group; Unknown for what is not known (the pool is not a btrfs
// subvolume or quotas are disabled).
func (m *Manager) PoolUsage() (usage, limit uint64) {
	usage, limit = Unknown, Unknown
	_ = withDir(m.paths.Pool, func(fd int) error {
		if isSubvolumeFd(fd) {
			q := subvolQuota(fd, poolQgroupLevel)
			usage, limit = q.usage, q.limit
		}
		return nil
	})
	return usage, limit
}

// withDir runs fn with the directory path open.
func withDir(path string, fn func(fd int) error) error {
	fd, err := openAt(unix.AT_FDCWD, path, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fn(fd)
}

// prepareTarget validates a rename or clone: the source exists, newName is
// valid and free; it returns the source with newName's lock held.
func (m *Manager) prepareTarget(op, name, newName string) (Image, func(), error) {
	if err := validName(newName); err != nil || newName == names.Host {
		return Image{}, nil, fmt.Errorf("%s image %s: new name %q: %w", op, name, newName, names.ErrInvalid)
	}
	img, err := m.Find(name)
	if err != nil {
		return Image{}, nil, opError(op, name, err)
	}
	nl, err := m.nameLock(newName)
	if err != nil {
		return Image{}, nil, opError(op, name, err)
	}
	if _, err := m.Find(newName); err == nil {
		nl.Release()
		return Image{}, nil, opError(op, name, fmt.Errorf("%s: %w", newName, ErrExists))
	}
	return img, func() { nl.Release() }, nil
}

// entryName is the directory entry of an image called name.
func entryName(name string, t Type) string {
	if t == Raw {
		return name + ".raw"
	}
	return name
}

// renameNoReplace renames without replacing; EEXIST becomes ErrExists.
func renameNoReplace(olddir int, oldname string, newdir int, newname string) error {
	err := kernel.Retry("renameat2", func() error {
		return unix.Renameat2(olddir, oldname, newdir, newname, unix.RENAME_NOREPLACE)
	})
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("%s: %w", newname, ErrExists)
	}
	return err
}

// unfreeze clears the immutable flag of dir/name if set, and returns the
// function that sets it again (on the same inode, wherever it is by then).
func unfreeze(dir int, name string) (func(), error) {
	fd, err := openAt(dir, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil, err
	}
	f, err := unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS)
	if err != nil || f&fsImmutableFL == 0 {
		unix.Close(fd)
		return func() {}, nil
	}
	if err := setImmutable(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return func() {
		_ = setImmutable(fd, true)
		unix.Close(fd)
	}, nil
}

// moveSettings renames NAME.nspawn to NEW.nspawn in every settings place,
// never replacing an existing file. Missing files are skipped.
func (m *Manager) moveSettings(dir, name, newName string) {
	for _, p := range m.settingsPaths(dir, name) {
		np := filepath.Join(filepath.Dir(p), newName+".nspawn")
		_ = unix.Renameat2(unix.AT_FDCWD, p, unix.AT_FDCWD, np, unix.RENAME_NOREPLACE)
	}
}

// copySettings copies NAME.nspawn to NEW.nspawn: in the trusted
// directories next to the original, and from the image's directory into
// the pool next to the clone. Missing files and symlinks are skipped.
func (m *Manager) copySettings(dir, name, newName string) {
	for i, p := range m.settingsPaths(dir, name) {
		to := filepath.Join(filepath.Dir(p), newName+".nspawn")
		if i == len(m.paths.SettingsTrusted) {
			to = filepath.Join(m.paths.Pool, newName+".nspawn")
		}
		if data, err := readSettings(p); err == nil {
			_ = writeNew(to, data)
		}
	}
}

// readSettings reads a settings file that is a regular file itself (a
// symlink is not carried along: it could point at any host file).
func readSettings(path string) ([]byte, error) {
	fd, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("settings %s: not a regular file", path)
	}
	return readAtMost(f, nspawnsettings.MaxFileSize)
}

// tempName returns a hidden, invalid-as-image-name temporary entry name
// for the entry base: ".#" + base + 16 hex digits.
func tempName(base string) string {
	var b [8]byte
	_ = kernel.Random(b[:]) // getrandom does not fail once the pool is seeded
	return ".#" + base + hex.EncodeToString(b[:])
}

// tempTarget returns the image name a temporary entry was made for.
func tempTarget(entry string) (string, bool) {
	rest, ok := strings.CutPrefix(entry, ".#")
	if !ok || len(rest) <= 16 {
		return "", false
	}
	if _, err := hex.DecodeString(rest[len(rest)-16:]); err != nil {
		return "", false
	}
	name := strings.TrimSuffix(rest[:len(rest)-16], ".raw")
	return name, validName(name) == nil
}

// securePool makes the pool directory fd owned by root and mode 0700, so
// no other user can reach image trees (setuid binaries of shifted images
// included). Only when running as root.
func securePool(fd int) error {
	if unix.Geteuid() != 0 {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("secure pool: %w", err)
	}
	if st.Uid != 0 || st.Gid != 0 {
		if err := unix.Fchown(fd, 0, 0); err != nil {
			return fmt.Errorf("secure pool: %w", err)
		}
	}
	if st.Mode&0o7777 != 0o700 {
		if err := unix.Fchmod(fd, 0o700); err != nil {
			return fmt.Errorf("secure pool: %w", err)
		}
	}
	return nil
}
