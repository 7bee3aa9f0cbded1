package images

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// progressEvery is how many entries pass between progress reports.
const progressEvery = 1024

// inode identifies a file for hard link detection.
type inode struct{ dev, ino uint64 }

// buffers are the scratch buffers of one goroutine of a copy.
type buffers struct {
	xattr []byte // extended attribute names and values
	data  []byte // read/write fallback of copy_file_range
}

func newBuffers() *buffers { return &buffers{xattr: make([]byte, 64<<10)} }

// copier copies a directory tree between two open directories, through
// descriptors only: nothing is looked up by a path that a symlink in the
// source could redirect. It keeps ownership, modes (setuid included),
// extended attributes (so ACLs and file capabilities), timestamps, hard
// links and holes, and stays on the source's file system (mount points are
// copied as empty directories).
//
// One goroutine walks the tree in order, creating directories, symlinks,
// nodes and hard-linked files itself; singly-linked regular files are
// copied by a few workers. A directory's own attributes (owner, mode,
// ACLs, times) are set once its walk and all its file jobs are done, so
// nothing created later changes them.
type copier struct {
	ctx      context.Context
	cancel   context.CancelFunc
	progress func(Progress)
	files    atomic.Uint64
	bytes    atomic.Uint64
	progMu   sync.Mutex // serialises progress calls

	rootDev   uint64
	dstRoot   int
	noReflink atomic.Bool // FICLONE failed once: not worth trying again
	// rootCreds is true when new entries are created owned by 0:0 (we run
	// as uid and gid 0, and parents stay 0700 without setgid until their
	// attributes are set last), so chown of 0:0 entries can be skipped.
	rootCreds bool
	// umask is the process umask, -1 if unknown; files are created with
	// their final permission bits and chmod is skipped when the umask did
	// not change them.
	umask int

	// Walker state, used by the walking goroutine only.
	links map[inode]string // first copy of a multiply-linked file, relative to dstRoot
	dents []byte
	wb    *buffers

	jobs    chan fileJob
	workers sync.WaitGroup

	errMu sync.Mutex
	err   error // guarded by errMu: the first failure
}

// dirState is a directory being copied; pending counts the walk and the
// file jobs still using it.
type dirState struct {
	src, dst int
	st       unix.Stat_t
	pending  atomic.Int64
	borrowed bool // the fds belong to the caller
}

// fileJob is one regular file for a worker.
type fileJob struct {
	dir  *dirState
	name string
	st   unix.Stat_t
}

func newCopier(ctx context.Context, progress func(Progress)) *copier {
	if ctx == nil {
		ctx = context.Background()
	}
	c := &copier{progress: progress, links: map[inode]string{}, dents: make([]byte, 32<<10), wb: newBuffers(),
		rootCreds: unix.Geteuid() == 0 && unix.Getegid() == 0, umask: readUmask()}
	c.ctx, c.cancel = context.WithCancel(ctx)
	return c
}

// copyRoot copies the contents and attributes of the directory src into
// the empty directory dst.
func (c *copier) copyRoot(src, dst int) error {
	defer c.cancel()
	root := &dirState{src: src, dst: dst, borrowed: true}
	if err := kernel.Retry("fstat", func() error { return unix.Fstat(src, &root.st) }); err != nil {
		return err
	}
	c.rootDev, c.dstRoot = root.st.Dev, dst
	n := min(max(runtime.GOMAXPROCS(0), 2), 4)
	c.jobs = make(chan fileJob, 64)
	for range n {
		c.workers.Add(1)
		go c.work()
	}
	c.walk(root, "")
	close(c.jobs)
	c.workers.Wait()
	c.errMu.Lock()
	err := c.err
	c.errMu.Unlock()
	if err != nil {
		return err
	}
	c.report()
	return nil
}

// fail records the first error and stops the copy.
func (c *copier) fail(err error) {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.err == nil {
		c.err = err
		c.cancel()
	}
}

// work copies files from the job queue.
func (c *copier) work() {
	defer c.workers.Done()
	b := newBuffers()
	for j := range c.jobs {
		if err := c.ctx.Err(); err != nil {
			c.fail(err) // skipped work must never look like success
		} else if err := c.copyFile(j.dir.src, j.dir.dst, j.name, "", &j.st, b); err != nil {
			c.fail(fmt.Errorf("%s: %w", j.name, err))
		}
		c.release(j.dir, b)
	}
}

// release drops one hold on d; the last one sets d's attributes and closes
// its descriptors.
func (c *copier) release(d *dirState, b *buffers) {
	if d.pending.Add(-1) != 0 {
		return
	}
	if err := c.ctx.Err(); err != nil {
		c.fail(err)
	} else if err := c.copyAttrs(d.src, d.dst, &d.st, b); err != nil {
		c.fail(err)
	}
	if !d.borrowed {
		unix.Close(d.src)
		unix.Close(d.dst)
	}
}

// walk copies every entry of d; rel is d's path below the root ("" for
// the root, else ending in "/"). Failures go to fail.
func (c *copier) walk(d *dirState, rel string) {
	d.pending.Add(1)
	defer c.release(d, c.wb)
	names, err := readDirNames(d.src, c.dents)
	if err != nil {
		c.fail(fmt.Errorf("%s: %w", rel, err))
		return
	}
	for _, name := range names {
		if c.ctx.Err() != nil {
			if err := context.Cause(c.ctx); err != nil {
				c.fail(err)
			}
			return
		}
		if err := c.copyEntry(d, name, rel); err != nil {
			c.fail(fmt.Errorf("%s%s: %w", rel, name, err))
			return
		}
		if n := c.files.Add(1); n%progressEvery == 0 {
			c.report()
		}
	}
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
func (c *copier) copyEntry(d *dirState, name, rel string) error {
	var st unix.Stat_t
	if err := kernel.Retry("fstatat", func() error {
		return unix.Fstatat(d.src, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	}); err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return c.copyDir(d, name, rel, &st)
	case unix.S_IFREG:
		if st.Nlink > 1 {
			return c.copyFile(d.src, d.dst, name, rel, &st, c.wb)
		}
		d.pending.Add(1)
		select {
		case c.jobs <- fileJob{dir: d, name: name, st: st}:
			return nil
		case <-c.ctx.Done():
			d.pending.Add(-1)
			return c.ctx.Err()
		}
	case unix.S_IFLNK:
		return c.copyLink(d.src, d.dst, name, &st, c.wb)
	default:
		return c.copyNode(d.src, d.dst, name, &st, c.wb)
	}
}

// copyDir creates name in d and walks it (only on the same file system).
func (c *copier) copyDir(d *dirState, name, rel string, st *unix.Stat_t) error {
	if err := kernel.Retry("mkdirat", func() error { return unix.Mkdirat(d.dst, name, 0o700) }); err != nil {
		return err
	}
	sfd, err := openAt(d.src, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	dfd, err := openAt(d.dst, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		unix.Close(sfd)
		return err
	}
	child := &dirState{src: sfd, dst: dfd, st: *st}
	if st.Dev == c.rootDev {
		c.walk(child, rel+name+"/")
		return nil
	}
	child.pending.Add(1)
	c.release(child, c.wb)
	return nil
}

// copyFile copies a regular file, or links it to an earlier copy.
func (c *copier) copyFile(src, dst int, name, rel string, st *unix.Stat_t, b *buffers) error {
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
		return unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, st.Mode&0o777)
	})
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := c.copyData(sfd, dfd, st, b); err != nil {
		return err
	}
	created := uint32(0o7777) // unknown: always chmod
	if c.umask >= 0 {
		created = st.Mode & 0o777 &^ uint32(c.umask)
	}
	if err := c.copyAttrsCreated(sfd, dfd, st, created, b); err != nil {
		return err
	}
	if st.Nlink > 1 {
		c.links[key] = rel + name
	}
	return nil
}

// copyData copies the contents: a reflink where the file system can,
// otherwise the data ranges only, so holes stay holes.
func (c *copier) copyData(sfd, dfd int, st *unix.Stat_t, b *buffers) error {
	if st.Size == 0 {
		return nil
	}
	if !c.noReflink.Load() {
		err := unix.IoctlFileClone(dfd, sfd)
		if err == nil {
			c.bytes.Add(uint64(st.Size))
			return nil
		}
		if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EXDEV) && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTTY) {
			return fmt.Errorf("reflink: %w", err)
		}
		c.noReflink.Store(true)
	}
	if st.Blocks*512 >= st.Size {
		return c.copyRange(sfd, dfd, 0, st.Size, b)
	}
	for off := int64(0); off < st.Size; {
		data, err := unix.Seek(sfd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		if err != nil {
			return c.copyRange(sfd, dfd, off, st.Size, b)
		}
		hole, err := unix.Seek(sfd, data, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("seek hole: %w", err)
		}
		if err := c.copyRange(sfd, dfd, data, hole, b); err != nil {
			return err
		}
		off = hole
	}
	return kernel.Retry("ftruncate", func() error { return unix.Ftruncate(dfd, st.Size) })
}

// copyRange copies bytes [start, end) with copy_file_range, falling back
// to read and write.
func (c *copier) copyRange(sfd, dfd int, start, end int64, b *buffers) error {
	roff, woff := start, start
	for roff < end {
		n, err := unix.CopyFileRange(sfd, &roff, dfd, &woff, int(min(end-roff, 1<<30)), 0)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL):
			return c.copyRangeRW(sfd, dfd, roff, end, b)
		case err != nil:
			return fmt.Errorf("copy_file_range: %w", err)
		case n == 0:
			return nil // the source shrank
		}
		c.bytes.Add(uint64(n))
	}
	return nil
}

// copyRangeRW copies [off, end) with pread and pwrite.
func (c *copier) copyRangeRW(sfd, dfd int, off, end int64, b *buffers) error {
	if b.data == nil {
		b.data = make([]byte, 256<<10)
	}
	for off < end {
		n, err := kernel.RetryInt("pread", func() (int, error) { return unix.Pread(sfd, b.data[:min(end-off, int64(len(b.data)))], off) })
		if err != nil || n == 0 {
			return err
		}
		if _, err := kernel.RetryInt("pwrite", func() (int, error) { return unix.Pwrite(dfd, b.data[:n], off) }); err != nil {
			return err
		}
		off += int64(n)
		c.bytes.Add(uint64(n))
	}
	return nil
}

// copyLink copies a symlink as a symlink.
func (c *copier) copyLink(src, dst int, name string, st *unix.Stat_t, b *buffers) error {
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
	return c.copyAttrsAt(src, dst, name, st, b)
}

// copyNode copies a device node, FIFO or socket.
func (c *copier) copyNode(src, dst int, name string, st *unix.Stat_t, b *buffers) error {
	if err := kernel.Retry("mknodat", func() error { return unix.Mknodat(dst, name, st.Mode, int(st.Rdev)) }); err != nil {
		return err
	}
	if err := c.copyAttrsAt(src, dst, name, st, b); err != nil {
		return err
	}
	return kernel.Retry("fchmodat", func() error { return unix.Fchmodat(dst, name, st.Mode&0o7777, 0) })
}

// copyAttrs sets owner, mode, xattrs and times of dfd from sfd and st, in
// that order (chown clears setuid and capabilities).
func (c *copier) copyAttrs(sfd, dfd int, st *unix.Stat_t, b *buffers) error {
	return c.copyAttrsCreated(sfd, dfd, st, 0o7777, b)
}

// copyAttrsCreated is copyAttrs for an entry created with permission bits
// created (0o7777 when unknown); chown and chmod are skipped when they
// would change nothing.
func (c *copier) copyAttrsCreated(sfd, dfd int, st *unix.Stat_t, created uint32, b *buffers) error {
	if !c.rootCreds || st.Uid != 0 || st.Gid != 0 {
		if err := kernel.Retry("fchown", func() error { return unix.Fchown(dfd, int(st.Uid), int(st.Gid)) }); err != nil {
			return err
		}
	}
	if created != st.Mode&0o7777 {
		if err := kernel.Retry("fchmod", func() error { return unix.Fchmod(dfd, st.Mode&0o7777) }); err != nil {
			return err
		}
	}
	if err := copyXattrs(fdXattrs{sfd}, fdXattrs{dfd}, b.xattr); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)}
	return kernel.Retry("futimens", func() error { return unix.UtimesNanoAt(dfd, "", ts, unix.AT_EMPTY_PATH) })
}

// copyAttrsAt sets owner, xattrs and times of dst/name (a symlink or node)
// without following it.
func (c *copier) copyAttrsAt(src, dst int, name string, st *unix.Stat_t, b *buffers) error {
	if !c.rootCreds || st.Uid != 0 || st.Gid != 0 {
		if err := kernel.Retry("fchownat", func() error {
			return unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW)
		}); err != nil {
			return err
		}
	}
	if err := copyXattrs(pathXattrs{procPath(src, name)}, pathXattrs{procPath(dst, name)}, b.xattr); err != nil {
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

// readUmask returns the process umask from /proc/self/status, or -1.
func readUmask() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Umask:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err != nil {
				return -1
			}
			return int(n)
		}
	}
	return -1
}

// openAt opens dir/name without following a final symlink.
func openAt(dir int, name string, flags int) (int, error) {
	return kernel.RetryInt("openat", func() (int, error) {
		return unix.Openat(dir, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
}

// report passes the counts so far to the progress callback, if any.
func (c *copier) report() {
	if c.progress == nil {
		return
	}
	c.progMu.Lock()
	defer c.progMu.Unlock()
	c.progress(Progress{Files: c.files.Load(), Bytes: c.bytes.Load()})
}
