package idmap

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// UserNS is an open user namespace carrying an ID mapping.
type UserNS struct {
	f *os.File
}

// Fd returns the namespace file descriptor (for setns or MOUNT_ATTR_IDMAP).
func (u *UserNS) Fd() int { return int(u.f.Fd()) }

// Close closes the namespace fd; the namespace lives on while mounts or
// processes use it.
func (u *UserNS) Close() error { return u.f.Close() }

// NewUserNS creates a user namespace with the given UID and GID mappings
// (setgroups denied) and returns it open. The carrier process is
// /proc/self/exe stopped by ptrace before it executes; it is killed and
// reaped before NewUserNS returns. StartCarrier begins the same earlier.
func NewUserNS(uids, gids []Mapping) (*UserNS, error) {
	if err := Validate(uids); err != nil {
		return nil, fmt.Errorf("user namespace uid map: %w", err)
	}
	if err := Validate(gids); err != nil {
		return nil, fmt.Errorf("user namespace gid map: %w", err)
	}
	return StartCarrier().Map(uids, gids)
}

// OpenUserNS opens the user namespace of process pid, for instance a
// machine's init that was started with the machine's mapping, so that the
// idmapped root needs no namespace of its own.
func OpenUserNS(pid int) (*UserNS, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/user")
	if err != nil {
		return nil, fmt.Errorf("open user namespace: %w", err)
	}
	return &UserNS{f: f}, nil
}

func procIDMaps(ms []Mapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(ms))
	for i, m := range ms {
		out[i] = syscall.SysProcIDMap{ContainerID: int(m.Inner), HostID: int(m.Outer), Size: int(m.Size)}
	}
	return out
}

// Tree is a detached mount tree (from open_tree), not yet attached
// anywhere. Its File can be passed to a child process (exec.Cmd.ExtraFiles)
// that attaches it in its own mount namespace. Close discards a tree that
// was not attached.
type Tree struct {
	f         *os.File
	recursive bool
}

// Clone makes a detached copy of the mount at src (with its submounts if
// recursive), like a bind mount that is not attached yet.
func Clone(src string, recursive bool) (*Tree, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := kernel.RetryInt("open_tree", func() (int, error) { return unix.OpenTree(unix.AT_FDCWD, src, flags) })
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", src, err)
	}
	return &Tree{f: os.NewFile(uintptr(fd), src), recursive: recursive}, nil
}

// TreeFromFile wraps a detached tree received from another process (the
// File of a Tree made there).
func TreeFromFile(f *os.File) *Tree { return &Tree{f: f} }

// File returns the tree's file, for passing to another process.
func (t *Tree) File() *os.File { return t.f }

// Idmap makes the tree idmapped through ns's mapping. It fails with EINVAL
// (or EPERM, EOPNOTSUPP) on file systems that do not support it, and when
// the tree is already idmapped.
func (t *Tree) Idmap(ns *UserNS) error {
	flags := uint(unix.AT_EMPTY_PATH)
	if t.recursive {
		flags |= unix.AT_RECURSIVE
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns.Fd())}
	err := kernel.Retry("mount_setattr", func() error { return unix.MountSetattr(int(t.f.Fd()), "", flags, attr) })
	runtime.KeepAlive(ns)
	if err != nil {
		return fmt.Errorf("idmap mount: %w", err)
	}
	return nil
}

// Attach mounts the tree on target, in the mount namespace of the caller.
func (t *Tree) Attach(target string) error {
	err := kernel.Retry("move_mount", func() error {
		return unix.MoveMount(int(t.f.Fd()), "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
	})
	if err != nil {
		return fmt.Errorf("attach mount on %s: %w", target, err)
	}
	return nil
}

// Close releases the tree; an unattached tree is unmounted with it.
func (t *Tree) Close() error { return t.f.Close() }

// IdmappedClone returns a detached clone of src, idmapped through ns: the
// piece a spawner makes in its own mount namespace and hands (File) to the
// process that attaches it in the machine's.
func IdmappedClone(src string, ns *UserNS, recursive bool) (*Tree, error) {
	t, err := Clone(src, recursive)
	if err != nil {
		return nil, err
	}
	if err := t.Idmap(ns); err != nil {
		t.Close()
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return t, nil
}

// Mount bind-mounts src on target, idmapped through ns.
func Mount(src, target string, ns *UserNS, recursive bool) error {
	t, err := IdmappedClone(src, ns, recursive)
	if err != nil {
		return err
	}
	defer t.Close()
	return t.Attach(target)
}

// Supported reports whether an idmapped mount of path can be made: nil if
// so, an error wrapping ErrUnsupported (and the kernel's errno) if the file
// system or kernel cannot, another error if the probe itself failed. It
// makes a detached idmapped clone through ns and discards it; nothing is
// attached. With a nil ns a throwaway namespace is created (a few
// milliseconds).
func Supported(path string, ns *UserNS) error {
	if ns == nil {
		m := []Mapping{{Inner: 0, Outer: 0x7FFF0000, Size: 0x10000}}
		tmp, err := NewUserNS(m, m)
		if err != nil {
			return fmt.Errorf("probe idmap of %s: %w", path, err)
		}
		defer tmp.Close()
		ns = tmp
	}
	t, err := Clone(path, false)
	if err != nil {
		return fmt.Errorf("probe idmap of %s: %w", path, err)
	}
	defer t.Close()
	err = t.Idmap(ns)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EPERM), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%s: %w (%w)", path, ErrUnsupported, err)
	}
	return fmt.Errorf("probe idmap of %s: %w", path, err)
}
