package images

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// Clone copies the image name to newName in the pool: a btrfs snapshot
// when source and pool are btrfs, else a reflink copy where the file
// system can, else a full copy that keeps ownership, modes, xattrs, ACLs,
// hard links and holes. progress (may be nil) is called as entries are
// copied. The copy is made under a hidden ".#" temporary name and renamed
// into place only when complete, so no partial image is ever listed; on
// any failure (ENOSPC, ctx cancelled) the temporary is removed and the
// source is untouched; one left by a killed process is removed by Clean.
// The pool directory is made root-owned and 0700 first. NAME.nspawn files are copied along. readOnly marks
// the clone read-only. ErrExists if newName is taken, ErrNotSupported for
// block devices and .host.
func (m *Manager) Clone(ctx context.Context, name, newName string, readOnly bool, progress func(Progress)) error {
	src, unlockName, err := m.prepareTarget("clone", name, newName)
	if err != nil {
		return err
	}
	defer unlockName()
	if src.IsHost() || src.Type == Block {
		return opError("clone", name, ErrNotSupported)
	}
	if err := os.MkdirAll(m.paths.Pool, 0o700); err != nil {
		return opError("clone", name, err)
	}
	pool, err := openAt(unix.AT_FDCWD, m.paths.Pool, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return opError("clone", name, err)
	}
	defer unix.Close(pool)
	if err := securePool(pool); err != nil {
		return opError("clone", name, err)
	}
	base := entryName(newName, src.Type)
	tmp := tempName(base)
	if err := m.cloneInto(ctx, src, pool, tmp, readOnly, progress); err != nil {
		_ = removeAt(pool, tmp)
		return opError("clone", name, err)
	}
	if err := renameNoReplace(pool, tmp, pool, base); err != nil {
		_ = removeAt(pool, tmp)
		return opError("clone", name, err)
	}
	if readOnly && src.Type != Raw {
		if err := m.MarkReadOnly(newName, true); err != nil {
			return opError("clone", name, err)
		}
	}
	m.copySettings(filepath.Dir(src.Path), name, newName)
	return nil
}

// cloneInto creates pool/tmp as a copy of src.
func (m *Manager) cloneInto(ctx context.Context, src Image, pool int, tmp string, readOnly bool, progress func(Progress)) error {
	flags := unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY
	if src.Type != Raw {
		flags |= unix.O_DIRECTORY
	}
	// The entry itself may be a symlink (pool entries may be); what it
	// points to is only read.
	sfd, err := kernel.RetryInt("open", func() (int, error) { return unix.Open(src.Path, flags|unix.O_CLOEXEC, 0) })
	if err != nil {
		return err
	}
	defer unix.Close(sfd)
	c := newCopier(ctx, progress)
	defer c.cancel()
	switch {
	case src.Type == Raw:
		return c.cloneFile(sfd, pool, tmp, readOnly)
	case src.Type == Subvolume && onBtrfs(pool):
		if err := snapshot(sfd, pool, tmp, readOnly); err == nil {
			c.report()
			return joinPoolQgroupAt(pool, tmp)
		}
	}
	if onBtrfs(pool) {
		err = createSubvolume(pool, tmp)
	} else {
		err = kernel.Retry("mkdirat", func() error { return unix.Mkdirat(pool, tmp, 0o700) })
	}
	if err != nil {
		return err
	}
	dfd, err := openAt(pool, tmp, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if isSubvolumeFd(dfd) {
		if err := joinPoolQgroup(pool, dfd); err != nil {
			return err
		}
	}
	if err := c.copyRoot(sfd, dfd); err != nil {
		return err
	}
	if readOnly && src.Type == Subvolume && isSubvolumeFd(dfd) {
		return setSubvolReadOnly(dfd, true)
	}
	return nil
}

// cloneFile copies the raw image sfd to pool/tmp.
func (c *copier) cloneFile(sfd, pool int, tmp string, readOnly bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(sfd, &st); err != nil {
		return err
	}
	dfd, err := kernel.RetryInt("openat", func() (int, error) {
		return unix.Openat(pool, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	})
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := c.copyData(sfd, dfd, &st, c.wb); err != nil {
		return err
	}
	if readOnly {
		st.Mode &^= 0o222
	}
	if err := c.copyAttrs(sfd, dfd, &st, c.wb); err != nil {
		return err
	}
	c.files.Add(1)
	c.report()
	return nil
}

// readAtMost reads r up to limit bytes; more is an error.
func readAtMost(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// writeNew creates path (which must not exist) with data, mode 0644.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// CopyTree copies the directory tree src into the existing, empty directory
// dst with Clone's engine (reflinks where the file system can; ownership,
// modes, xattrs, ACLs, hard links, holes and times kept; descriptors only,
// never following a symlink of the source; one file system). It is what
// the spawner's --template and -x need. On failure dst is left partly
// filled: the caller removes it. Needs root to keep ownership.
func CopyTree(ctx context.Context, src, dst string, progress func(Progress)) error {
	sfd, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open(src, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return fmt.Errorf("copy tree %s: %w", src, err)
	}
	defer unix.Close(sfd)
	dfd, err := openAt(unix.AT_FDCWD, dst, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("copy tree to %s: %w", dst, err)
	}
	defer unix.Close(dfd)
	names, err := readDirNames(dfd, make([]byte, 4096))
	if err != nil {
		return fmt.Errorf("copy tree to %s: %w", dst, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("copy tree to %s: not empty: %w", dst, ErrExists)
	}
	if err := newCopier(ctx, progress).copyRoot(sfd, dfd); err != nil {
		return fmt.Errorf("copy tree %s to %s: %w", src, dst, err)
	}
	return nil
}
