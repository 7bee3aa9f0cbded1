//go:build linux

package enter

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// BindMount mounts the host path src at dst inside the machine of ns,
// read-only if asked, creating dst (a directory, or an empty file for a
// file source) when mkdir is set. When ns.User is set the mount is
// idmapped into the machine's user namespace, so host root's files are
// the machine root's. dst resolves inside the machine's root and never
// follows a symlink out of it.
//
// The mount is cloned with open_tree in the host's namespace and
// attached by a dedicated OS thread that has entered the machine's mount
// namespace (unshare(CLONE_FS) makes that legal for one thread of a Go
// program); the thread is never reused.
func BindMount(ns *Namespaces, src, dst string, readOnly, mkdir bool) error {
	tree, err := cloneTree(src, readOnly, ns.User)
	if err != nil {
		return fmt.Errorf("bind mount %s: %w", src, err)
	}
	defer tree.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(tree.Fd()), &st); err != nil {
		return fmt.Errorf("bind mount %s: %w", src, err)
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread leaves the host's mount namespace
		// and must die with this goroutine.
		runtime.LockOSThread()
		errc <- attach(ns, tree, dst, isDir, mkdir)
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("bind mount %s on %s: %w", src, dst, err)
	}
	return nil
}

// cloneTree returns a detached copy of the mount at src with the
// requested attributes.
func cloneTree(src string, readOnly bool, userns *os.File) (*os.File, error) {
	fd, err := kernel.RetryInt("open_tree", func() (int, error) {
		return unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	})
	if err != nil {
		return nil, err
	}
	tree := os.NewFile(uintptr(fd), src)
	attr := unix.MountAttr{}
	if readOnly {
		attr.Attr_set |= unix.MOUNT_ATTR_RDONLY
	}
	if userns != nil {
		attr.Attr_set |= unix.MOUNT_ATTR_IDMAP
		attr.Userns_fd = uint64(userns.Fd())
	}
	if attr.Attr_set != 0 {
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
			tree.Close()
			return nil, os.NewSyscallError("mount_setattr", err)
		}
	}
	return tree, nil
}

// attach runs on a locked thread: it enters the machine's mount
// namespace and root, then moves tree onto dst.
func attach(ns *Namespaces, tree *os.File, dst string, isDir, mkdir bool) error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return os.NewSyscallError("unshare", err)
	}
	if err := unix.Setns(int(ns.Mount.Fd()), unix.CLONE_NEWNS); err != nil {
		return os.NewSyscallError("setns", err)
	}
	if err := unix.Fchdir(int(ns.Root.Fd())); err != nil {
		return os.NewSyscallError("fchdir", err)
	}
	if err := unix.Chroot("."); err != nil {
		return os.NewSyscallError("chroot", err)
	}
	target, err := openTarget(dst, isDir, mkdir)
	if err != nil {
		return err
	}
	defer unix.Close(target)
	err = unix.MoveMount(int(tree.Fd()), "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	return os.NewSyscallError("move_mount", err)
}

// openTarget opens dst below the (new) root without following symlinks
// out, creating it if asked.
func openTarget(dst string, isDir, mkdir bool) (int, error) {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := kernel.Openat2(unix.AT_FDCWD, dst, &how)
	if !errors.Is(err, unix.ENOENT) || !mkdir {
		return fd, err
	}
	parentHow := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: how.Resolve}
	parent, err := kernel.Openat2(unix.AT_FDCWD, filepath.Dir(dst), &parentHow)
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	if isDir {
		err = unix.Mkdirat(parent, filepath.Base(dst), 0o755)
	} else {
		var f int
		if f, err = unix.Openat(parent, filepath.Base(dst), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644); err == nil {
			unix.Close(f)
		}
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, os.NewSyscallError("create mount point", err)
	}
	return kernel.Openat2(unix.AT_FDCWD, dst, &how)
}
