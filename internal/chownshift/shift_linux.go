package chownshift

import (
	"errors"
	"fmt"
	"path"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

const (
	xattrACL     = "system.posix_acl_access"
	xattrDefACL  = "system.posix_acl_default"
	xattrCaps    = "security.capability"
	xattrJournal = "trusted.berth.shift"
	progressStep = 4096
)

// Detect returns the ownership state of the tree at root without changing
// anything.
func Detect(root string) (State, error) {
	var st unix.Stat_t
	if err := kernel.Retry("lstat", func() error { return unix.Lstat(root, &st) }); err != nil {
		return State{}, fmt.Errorf("detect shift: %w", err)
	}
	s, err := stateOf(st.Uid, st.Gid)
	if err != nil {
		return State{}, fmt.Errorf("detect shift of %s: %w", root, err)
	}
	return s, nil
}

// Shift rewrites the tree at root to shift to (see the package
// documentation). A tree already at to is left alone (Result.Changed
// false) unless an interrupted shift must be completed.
func Shift(root string, to uint32, opts Options) (Result, error) {
	if err := validTarget(to); err != nil {
		return Result{}, fmt.Errorf("shift %s: %w", root, err)
	}
	fd, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return Result{}, fmt.Errorf("shift %s: %w", root, err)
	}
	defer unix.Close(fd)
	res, err := shiftTop(fd, to, opts)
	if err != nil {
		return res, fmt.Errorf("shift %s to %#x: %w", root, to, err)
	}
	return res, nil
}

// shiftTop runs the marked shift of the tree whose top directory is fd.
func shiftTop(fd int, to uint32, opts Options) (Result, error) {
	st, mnt, err := statAt(fd, "")
	if err != nil {
		return Result{}, err
	}
	state, err := stateOf(st.Uid, st.Gid)
	if err != nil {
		return Result{}, err
	}
	res := Result{From: state.Shift, Resumed: state.Busy}
	if !state.Busy && state.Shift == to {
		return res, nil
	}
	est, err := checkFS(fd)
	if err != nil {
		return res, err
	}
	if !state.Busy {
		if err := mark(fd, shiftID(st.Uid, BusyBase), shiftID(st.Gid, BusyBase)); err != nil {
			return res, fmt.Errorf("mark busy: %w", err)
		}
	}
	w := &walker{
		to: to, top: fd, dev: st.Dev, mnt: mnt, links: map[devIno]bool{}, est: est,
		progress: opts.Progress, afterChown: opts.afterChown, buf: make([]byte, 1024),
	}
	w.x.legacy = opts.procXattrs
	if state.Busy {
		if err := w.replayJournal(); err != nil {
			return res, fmt.Errorf("replay journal: %w", err)
		}
	}
	if err := w.dir(fd, ""); err != nil {
		return res, err
	}
	if err := w.clearJournal(); err != nil {
		return res, err
	}
	// The top directory last: its real owner ends the shift.
	if err := w.entry(node{dirfd: fd}, "", st); err != nil {
		return res, err
	}
	if err := kernel.Retry("fsync", func() error { return unix.Fsync(fd) }); err != nil {
		return res, err
	}
	w.report()
	res.Changed, res.Entries = true, w.done
	return res, nil
}

// checkFS refuses pseudo file systems and returns the number of inodes in
// use on the file system, the progress estimate.
func checkFS(fd int) (uint64, error) {
	var sfs unix.Statfs_t
	if err := kernel.Retry("fstatfs", func() error { return unix.Fstatfs(fd, &sfs) }); err != nil {
		return 0, err
	}
	switch uint32(sfs.Type) {
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.CGROUP_SUPER_MAGIC,
		unix.CGROUP2_SUPER_MAGIC, unix.DEVPTS_SUPER_MAGIC:
		return 0, fmt.Errorf("%w: type %#x", ErrFilesystem, sfs.Type)
	}
	return sfs.Files - sfs.Ffree, nil
}

// mark chowns the top directory to the busy range and makes that durable
// before the walk starts.
func mark(fd int, uid, gid uint32) error {
	if err := kernel.Retry("fchown", func() error { return unix.Fchown(fd, int(uid), int(gid)) }); err != nil {
		return err
	}
	return kernel.Retry("fsync", func() error { return unix.Fsync(fd) })
}

type devIno struct{ dev, ino uint64 }

// walker holds the state of one shift.
type walker struct {
	to       uint32
	top      int
	dev      uint64
	mnt      uint64 // mount ID of the top (0: unknown)
	links    map[devIno]bool
	done     uint64
	est      uint64
	progress func(Progress)
	x        xattrs
	buf      []byte
	// afterChown is Options.afterChown.
	afterChown func(path string)
}

func (w *walker) report() {
	if w.progress != nil {
		w.progress(Progress{Done: w.done, Estimate: w.est})
	}
}

// dir shifts every entry below the directory fd, depth first. rel is the
// directory's path relative to the top ("" for the top).
func (w *walker) dir(fd int, rel string) error {
	names, err := readNames(fd)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := w.child(fd, path.Join(rel, name), name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// child shifts one entry of directory fd, and what is below it.
func (w *walker) child(fd int, rel, name string) error {
	st, mnt, err := statAt(fd, name)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	// Another file system, or a bind mount (same st_dev, other mount ID):
	// not part of the tree.
	if err != nil || st.Dev != w.dev || (w.mnt != 0 && mnt != w.mnt) {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return w.subdir(fd, rel, name, st)
	}
	if st.Nlink > 1 {
		k := devIno{st.Dev, st.Ino}
		if w.links[k] {
			return nil
		}
		w.links[k] = true
	}
	return w.entry(node{fd, name}, rel, st)
}

// statAt stats the entry name of directory fd (fd itself if name is
// empty) without following links, and returns its mount ID too (0 on
// kernels before 5.8).
func statAt(fd int, name string) (*unix.Stat_t, uint64, error) {
	flags := unix.AT_SYMLINK_NOFOLLOW | unix.AT_STATX_SYNC_AS_STAT
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	var x unix.Statx_t
	err := kernel.Retry("statx", func() error {
		return unix.Statx(fd, name, flags, unix.STATX_BASIC_STATS|unix.STATX_MNT_ID, &x)
	})
	if err != nil {
		return nil, 0, err
	}
	st := &unix.Stat_t{
		Dev: unix.Mkdev(x.Dev_major, x.Dev_minor), Ino: x.Ino, Nlink: uint64(x.Nlink),
		Mode: uint32(x.Mode), Uid: x.Uid, Gid: x.Gid,
	}
	var mnt uint64
	if x.Mask&unix.STATX_MNT_ID != 0 {
		mnt = x.Mnt_id
	}
	return st, mnt, nil
}

// subdir shifts directory name of fd and descends into it. The directory
// is opened without following links and checked to be the inode stat saw.
func (w *walker) subdir(fd int, rel, name string, st *unix.Stat_t) error {
	sub, err := kernel.RetryInt("openat", func() (int, error) {
		return unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOATIME, 0)
	})
	if err != nil {
		return err
	}
	defer unix.Close(sub)
	var now unix.Stat_t
	if err := kernel.Retry("fstat", func() error { return unix.Fstat(sub, &now) }); err != nil {
		return err
	}
	if now.Dev != st.Dev || now.Ino != st.Ino {
		return fmt.Errorf("directory replaced during the shift: %w", unix.ESTALE)
	}
	if err := w.entry(node{fd, name}, rel, st); err != nil {
		return err
	}
	return w.dir(sub, rel)
}

// entry shifts one inode: owner, group, ACLs, capabilities, and restores
// the setuid/setgid bits the chown cleared. rel is its path relative to
// the top, for the journal.
func (w *walker) entry(n node, rel string, st *unix.Stat_t) error {
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	var attrs map[string][]byte
	if !isLink {
		var err error
		if attrs, err = w.readAttrs(n); err != nil {
			return err
		}
	}
	uid, gid := shiftID(st.Uid, w.to), shiftID(st.Gid, w.to)
	if uid != st.Uid || gid != st.Gid {
		if err := w.journal(rel, st, attrs[xattrCaps]); err != nil {
			return err
		}
		if err := chown(n, uid, gid); err != nil {
			return err
		}
		if w.afterChown != nil {
			w.afterChown(rel)
		}
	}
	for _, a := range []string{xattrACL, xattrDefACL, xattrCaps} {
		if v, ok := attrs[a]; ok {
			if err := w.x.set(n, a, v); err != nil {
				return fmt.Errorf("set %s: %w", a, err)
			}
		}
	}
	if !isLink && (st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 || attrs[xattrACL] != nil) {
		if err := chmod(n, st.Mode&07777); err != nil {
			return err
		}
	}
	w.done++
	if w.done%progressStep == 0 {
		w.report()
	}
	return nil
}

// readAttrs returns the shifted values of the ACL and capability attributes
// n has. A value that cannot be parsed is kept as it is.
func (w *walker) readAttrs(n node) (map[string][]byte, error) {
	list, err := w.x.list(n, w.buf)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	var out map[string][]byte
	for _, a := range list {
		shift := shiftACL
		switch a {
		case xattrACL, xattrDefACL:
		case xattrCaps:
			shift = shiftCaps
		default:
			continue
		}
		v, err := w.x.get(n, a)
		if errors.Is(err, unix.ENODATA) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", a, err)
		}
		if s, err := shift(v, w.to); err == nil {
			v = s
		}
		if out == nil {
			out = map[string][]byte{}
		}
		out[a] = v
	}
	return out, nil
}

func chown(n node, uid, gid uint32) error {
	flags := unix.AT_SYMLINK_NOFOLLOW
	if n.name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	return kernel.Retry("fchownat", func() error { return unix.Fchownat(n.dirfd, n.name, int(uid), int(gid), flags) })
}

// chmod sets the mode of a non-link node without following links:
// fchmodat2 with AT_SYMLINK_NOFOLLOW, or fchmodat on kernels before 6.6
// (the caller has just seen that the entry is not a link).
func chmod(n node, mode uint32) error {
	if n.name == "" {
		return kernel.Retry("fchmod", func() error { return unix.Fchmod(n.dirfd, mode) })
	}
	err := kernel.Retry("fchmodat2", func() error { return unix.Fchmodat(n.dirfd, n.name, mode, unix.AT_SYMLINK_NOFOLLOW) })
	if !errors.Is(err, unix.EOPNOTSUPP) {
		return err
	}
	var st unix.Stat_t
	if err := kernel.Retry("fstatat", func() error { return unix.Fstatat(n.dirfd, n.name, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return nil
	}
	return kernel.Retry("fchmodat", func() error { return unix.Fchmodat(n.dirfd, n.name, mode, 0) })
}

// readNames returns the entry names of the freshly opened directory fd,
// without "." and "..".
func readNames(fd int) ([]string, error) {
	buf := make([]byte, 32<<10)
	var names []string
	for {
		n, err := kernel.RetryInt("getdents64", func() (int, error) { return unix.ReadDirent(fd, buf) })
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}
