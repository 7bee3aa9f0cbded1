package images

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// progressEvery is how many entries pass between progress reports.
const progressEvery = 1024

// inode identifies a file for hard link detection.
type inode struct{ dev, ino uint64 }

// copier copies a directory tree between two open directories, through
// descriptors only: nothing is looked up by a path that a symlink in the
// source could redirect. It keeps ownership, modes (setuid included),
// extended attributes (so ACLs and file capabilities), timestamps, hard
// links and holes, and stays on the source's file system (mount points are
// copied as empty directories).
type copier struct {
	ctx      context.Context
	progress func(Progress)
	done     Progress
	rootDev  uint64
	dstRoot  int
	links    map[inode]string // first copy of a multiply-linked file, relative to dstRoot
	reflink  bool             // FICLONE still worth trying
	dents    []byte
	xbuf     []byte
	cbuf     []byte
}

func newCopier(ctx context.Context, progress func(Progress)) *copier {
	return &copier{ctx: ctx, progress: progress, links: map[inode]string{}, reflink: true,
		dents: make([]byte, 32<<10), xbuf: make([]byte, 64<<10)}
}

// copyRoot copies the contents and attributes of the directory src into
// the empty directory dst.
func (c *copier) copyRoot(src, dst int) error {
	var st unix.Stat_t
	if err := kernel.Retry("fstat", func() error { return unix.Fstat(src, &st) }); err != nil {
		return err
	}
	c.rootDev, c.dstRoot = st.Dev, dst
	if err := c.copyTree(src, dst, ""); err != nil {
		return err
	}
	if err := c.copyAttrs(src, dst, &st); err != nil {
		return err
	}
	c.report(true)
	return nil
}

// copyTree copies every entry of the directory src into dst; rel is src's
// path below the root ("" for the root, else ending in "/").
func (c *copier) copyTree(src, dst int, rel string) error {
	names, err := readDirNames(src, c.dents)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		if err := c.copyEntry(src, dst, name, rel); err != nil {
			return fmt.Errorf("%s%s: %w", rel, name, err)
		}
		c.done.Files++
		c.report(false)
	}
	return nil
}

// readDirNames returns the names in the directory fd (without . and ..),
// using buf for getdents.
func readDirNames(fd int, buf []byte) ([]string, error) {
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		return nil, fmt.Errorf("rewind directory: %w", err)
	}
	var names []string
	for {
		n, err := kernel.RetryInt("getdents", func() (int, error) { return unix.Getdents(fd, buf) })
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// copyEntry copies one directory entry by type.
func (c *copier) copyEntry(src, dst int, name, rel string) error {
	var st unix.Stat_t
	if err := kernel.Retry("fstatat", func() error {
		return unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	}); err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return c.copyDir(src, dst, name, rel, &st)
	case unix.S_IFREG:
		return c.copyFile(src, dst, name, rel, &st)
	case unix.S_IFLNK:
		return c.copyLink(src, dst, name, &st)
	default:
		return c.copyNode(src, dst, name, &st)
	}
}

// copyDir creates name in dst and copies the subtree (only on the same
// file system).
func (c *copier) copyDir(src, dst int, name, rel string, st *unix.Stat_t) error {
	if err := kernel.Retry("mkdirat", func() error { return unix.Mkdirat(dst, name, 0o700) }); err != nil {
		return err
	}
	sfd, err := openAt(src, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(sfd)
	dfd, err := openAt(dst, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if st.Dev == c.rootDev {
		if err := c.copyTree(sfd, dfd, rel+name+"/"); err != nil {
			return err
		}
	}
	return c.copyAttrs(sfd, dfd, st)
}

// copyFile copies a regular file, or links it to an earlier copy.
func (c *copier) copyFile(src, dst int, name, rel string, st *unix.Stat_t) error {
	key := inode{st.Dev, st.Ino}
	if st.Nlink > 1 {
		if first, ok := c.links[key]; ok {
			return kernel.Retry("linkat", func() error { return unix.Linkat(c.dstRoot, first, dst, name, 0) })
		}
	}
	sfd, err := openAt(src, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return err
	}
	defer unix.Close(sfd)
	dfd, err := kernel.RetryInt("openat", func() (int, error) {
		return unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	})
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := c.copyData(sfd, dfd, st); err != nil {
		return err
	}
	if err := c.copyAttrs(sfd, dfd, st); err != nil {
		return err
	}
	if st.Nlink > 1 {
		c.links[key] = rel + name
	}
	return nil
}

// copyData copies the contents: a reflink where the file system can,
// otherwise the data ranges only, so holes stay holes.
func (c *copier) copyData(sfd, dfd int, st *unix.Stat_t) error {
	if st.Size == 0 {
		return nil
	}
	if c.reflink {
		err := unix.IoctlFileClone(dfd, sfd)
		if err == nil {
			c.done.Bytes += uint64(st.Size)
			return nil
		}
		if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EXDEV) && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTTY) {
			return fmt.Errorf("reflink: %w", err)
		}
		c.reflink = false
	}
	if st.Blocks*512 >= st.Size {
		return c.copyRange(sfd, dfd, 0, st.Size)
	}
	for off := int64(0); off < st.Size; {
		data, err := unix.Seek(sfd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		if err != nil {
			return c.copyRange(sfd, dfd, off, st.Size)
		}
		hole, err := unix.Seek(sfd, data, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("seek hole: %w", err)
		}
		if err := c.copyRange(sfd, dfd, data, hole); err != nil {
			return err
		}
		off = hole
	}
	return kernel.Retry("ftruncate", func() error { return unix.Ftruncate(dfd, st.Size) })
}

// copyRange copies bytes [start, end) with copy_file_range, falling back
// to read and write.
func (c *copier) copyRange(sfd, dfd int, start, end int64) error {
	roff, woff := start, start
	for roff < end {
		n, err := unix.CopyFileRange(sfd, &roff, dfd, &woff, int(min(end-roff, 1<<30)), 0)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL):
			return c.copyRangeRW(sfd, dfd, roff, end)
		case err != nil:
			return fmt.Errorf("copy_file_range: %w", err)
		case n == 0:
			return nil // the source shrank
		}
		c.done.Bytes += uint64(n)
	}
	return nil
}

// copyRangeRW copies [off, end) with pread and pwrite.
func (c *copier) copyRangeRW(sfd, dfd int, off, end int64) error {
	if c.cbuf == nil {
		c.cbuf = make([]byte, 256<<10)
	}
	for off < end {
		n, err := kernel.RetryInt("pread", func() (int, error) { return unix.Pread(sfd, c.cbuf[:min(end-off, int64(len(c.cbuf)))], off) })
		if err != nil || n == 0 {
			return err
		}
		if _, err := kernel.RetryInt("pwrite", func() (int, error) { return unix.Pwrite(dfd, c.cbuf[:n], off) }); err != nil {
			return err
		}
		off += int64(n)
		c.done.Bytes += uint64(n)
	}
	return nil
}

// copyLink copies a symlink as a symlink.
func (c *copier) copyLink(src, dst int, name string, st *unix.Stat_t) error {
	buf := make([]byte, st.Size+1)
	n, err := kernel.RetryInt("readlinkat", func() (int, error) { return unix.Readlinkat(src, name, buf) })
	if err != nil {
		return err
	}
	if n > int(st.Size) {
		return fmt.Errorf("symlink changed during copy: %w", unix.EAGAIN)
	}
	if err := kernel.Retry("symlinkat", func() error { return unix.Symlinkat(string(buf[:n]), dst, name) }); err != nil {
		return err
	}
	return c.copyAttrsAt(src, dst, name, st)
}

// copyNode copies a device node, FIFO or socket.
func (c *copier) copyNode(src, dst int, name string, st *unix.Stat_t) error {
	if err := kernel.Retry("mknodat", func() error { return unix.Mknodat(dst, name, st.Mode, int(st.Rdev)) }); err != nil {
		return err
	}
	if err := c.copyAttrsAt(src, dst, name, st); err != nil {
		return err
	}
	return kernel.Retry("fchmodat", func() error { return unix.Fchmodat(dst, name, st.Mode&0o7777, 0) })
}

// copyAttrs sets owner, mode, xattrs and times of dfd from sfd and st, in
// that order (chown clears setuid and capabilities).
func (c *copier) copyAttrs(sfd, dfd int, st *unix.Stat_t) error {
	if err := kernel.Retry("fchown", func() error { return unix.Fchown(dfd, int(st.Uid), int(st.Gid)) }); err != nil {
		return err
	}
	if err := kernel.Retry("fchmod", func() error { return unix.Fchmod(dfd, st.Mode&0o7777) }); err != nil {
		return err
	}
	if err := c.copyXattrs(fdXattrs{sfd}, fdXattrs{dfd}); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)}
	return kernel.Retry("futimens", func() error { return unix.UtimesNanoAt(dfd, "", ts, unix.AT_EMPTY_PATH) })
}

// copyAttrsAt sets owner, xattrs and times of dst/name (a symlink or node)
// without following it.
func (c *copier) copyAttrsAt(src, dst int, name string, st *unix.Stat_t) error {
	if err := kernel.Retry("fchownat", func() error {
		return unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW)
	}); err != nil {
		return err
	}
	if err := c.copyXattrs(pathXattrs{procPath(src, name)}, pathXattrs{procPath(dst, name)}); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)}
	return kernel.Retry("utimensat", func() error { return unix.UtimesNanoAt(dst, name, ts, unix.AT_SYMLINK_NOFOLLOW) })
}

// procPath names dir/name through the open directory, so no path lookup
// outside that directory happens; l*xattr calls do not follow name.
func procPath(dir int, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(dir) + "/" + name
}

// openAt opens dir/name without following a final symlink.
func openAt(dir int, name string, flags int) (int, error) {
	return kernel.RetryInt("openat", func() (int, error) {
		return unix.Openat(dir, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
}

// report calls the progress callback every progressEvery entries, and at
// the end when final.
func (c *copier) report(final bool) {
	if c.progress != nil && (final || c.done.Files%progressEvery == 0) {
		c.progress(c.done)
	}
}
