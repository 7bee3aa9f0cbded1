package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/kernel"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// ErrSymlink is returned when a path that must be a real directory or file
// in the image (an API mount point) is a symlink.
var ErrSymlink = errors.New("refusing a symlink in the image")

// Root is an O_PATH handle on the directory that becomes the container's
// root. Every mount target is resolved relative to it.
type Root struct {
	// Dir is the root directory's path in the spawner's mount namespace.
	Dir string
	f   *os.File
	// base is the image directory and stacked the number of mounts
	// Prepare stacked on it (Detach removes them).
	base    string
	stacked int
	// creator, if not 0, is the host UID and GID that Prepare creates
	// entries in the root as (see creating).
	creator uint32
}

// openRoot opens dir as a Root.
func openRoot(dir string) (*Root, error) {
	fd, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", dir, err)
	}
	return &Root{Dir: dir, f: os.NewFile(uintptr(fd), dir)}, nil
}

// Close releases the handle.
func (r *Root) Close() error { return r.f.Close() }

// Fd returns the root's O_PATH descriptor, valid until Close or Detach.
func (r *Root) Fd() uintptr { return r.f.Fd() }

// fdPath names an open file descriptor as a path the mount calls accept.
func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// openIn opens p (absolute, inside the root) as an O_PATH handle. With
// strict, no symlink may appear anywhere on the way; otherwise symlinks
// are followed but stay inside the root.
func (r *Root) openIn(p string, strict bool) (*os.File, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	if strict {
		how.Resolve |= unix.RESOLVE_NO_SYMLINKS
	}
	fd, err := kernel.Openat2(int(r.f.Fd()), relIn(p), &how)
	if errors.Is(err, unix.ELOOP) && strict {
		return nil, fmt.Errorf("%w: %s", ErrSymlink, p)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s in root: %w", p, err)
	}
	return os.NewFile(uintptr(fd), p), nil
}

// relIn turns the absolute path p inside the root into one relative to it.
func relIn(p string) string {
	if rel := strings.TrimLeft(path.Clean("/"+p), "/"); rel != "" {
		return rel
	}
	return "."
}

// apiDir opens (creating it when missing) a directory that must not be a
// symlink, such as /proc or /dev.
func (r *Root) apiDir(p string) (*os.File, error) {
	f, err := r.openIn(p, true)
	if errors.Is(err, unix.ENOENT) {
		parent, perr := r.openIn(path.Dir(p), true)
		if perr != nil {
			return nil, perr
		}
		defer parent.Close()
		merr := r.creating(func() error {
			return kernel.Retry("mkdirat", func() error { return unix.Mkdirat(int(parent.Fd()), path.Base(p), 0o755) })
		})
		if merr != nil && !errors.Is(merr, unix.EEXIST) {
			return nil, fmt.Errorf("create %s: %w", p, merr)
		}
		f, err = r.openIn(p, true)
	}
	if err != nil {
		return nil, err
	}
	if err := mustBeDir(f, p); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// mustBeDir fails unless f is a directory.
func mustBeDir(f *os.File, p string) error {
	var st unix.Stat_t
	if err := kernel.Retry("fstat", func() error { return unix.Fstat(int(f.Fd()), &st) }); err != nil {
		return fmt.Errorf("stat %s: %w", p, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
	case unix.S_IFLNK:
		return fmt.Errorf("%w: %s", ErrSymlink, p)
	default:
		return fmt.Errorf("%s in the image is not a directory", p)
	}
	return nil
}

// mkdirAll opens directory p inside the root, creating missing parts; any
// symlink on the way is resolved inside the root.
func (r *Root) mkdirAll(p string) (*os.File, error) {
	// Most targets exist: open them as openat2 resolves them, without
	// the walk and procfs checks of MkdirAllHandle (a symlink at the end,
	// which openIn does not follow, takes the walk).
	if f, err := r.openIn(p, false); err == nil {
		if mustBeDir(f, p) == nil {
			return f, nil
		}
		f.Close()
	}
	var f *os.File
	err := r.creating(func() error {
		var err error
		f, err = pathrs.MkdirAllHandle(r.f, p, 0o755)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create %s in root: %w", p, err)
	}
	return f, nil
}

// mkfileAll opens file p inside the root as a mount target, creating an
// empty file (and missing parent directories) when p does not exist.
func (r *Root) mkfileAll(p string) (*os.File, error) {
	if f, err := r.openIn(p, false); err == nil {
		return f, nil
	}
	parent, err := r.mkdirAll(path.Dir(p))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	var fd int
	err = r.creating(func() error {
		var err error
		fd, err = kernel.RetryInt("openat", func() (int, error) {
			return unix.Openat(int(parent.Fd()), path.Base(p),
				unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		})
		return err
	})
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create %s in root: %w", p, err)
	}
	if err == nil {
		unix.Close(fd)
	}
	return r.openIn(p, false)
}

// creating runs fn, which creates entries in the root, with the calling
// thread's file system UID and GID set to r.creator, if set. Prepare runs
// as host root, whose UID has no place in an idmapped root's mapping (it
// could create nothing there); as the user namespace's root it creates
// what container root owns, in the image and in the container's tmpfs
// mounts alike. Where that user may not write (an image left owned by
// host IDs, --private-users-ownership=off), fn runs again as host root.
// The caller must be locked to its OS thread.
func (r *Root) creating(fn func() error) error {
	if r.creator == 0 {
		return fn()
	}
	err := r.asCreator(fn)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		err = fn()
	}
	return err
}

// asCreator runs fn with the thread's file system IDs set to r.creator
// (which drops the file capabilities of host root until they are back).
func (r *Root) asCreator(fn func() error) error {
	id := int(r.creator)
	_, _ = unix.SetfsgidRetGid(id)
	_, _ = unix.SetfsuidRetUid(id)
	defer func() {
		_, _ = unix.SetfsuidRetUid(0)
		_, _ = unix.SetfsgidRetGid(0)
	}()
	return fn()
}

// mount wraps mount(2).
func mount(src, target, fstype string, flags uintptr, data string) error {
	return kernel.Retry("mount", func() error { return unix.Mount(src, target, fstype, flags, data) })
}

// mountOn mounts onto the handle f; what names the target in errors.
func mountOn(f *os.File, what, src, fstype string, flags uintptr, data string) error {
	if err := mount(src, fdPath(f), fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype+src, what, err)
	}
	return nil
}

// chown gives the file at p to the user namespace's root (nothing without
// a user namespace).
func (s *Spec) chown(p string) error {
	if !s.UserNS {
		return nil
	}
	if err := kernel.Retry("lchown", func() error { return unix.Lchown(p, int(s.Shift), int(s.Shift)) }); err != nil {
		return fmt.Errorf("chown %s: %w", p, err)
	}
	return nil
}

// chownAt gives the entry name of the directory dir (dir itself when name
// is empty) to the user namespace's root.
func (s *Spec) chownAt(dir *os.File, name string) error {
	if !s.UserNS {
		return nil
	}
	flags := unix.AT_SYMLINK_NOFOLLOW
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	err := kernel.Retry("fchownat", func() error {
		return unix.Fchownat(int(dir.Fd()), name, int(s.Shift), int(s.Shift), flags)
	})
	if err != nil {
		return fmt.Errorf("chown %s/%s: %w", dir.Name(), name, err)
	}
	return nil
}

// bindSelf bind-mounts the directory at f onto itself and reopens it, so
// the result is a mount point.
func bindSelf(f *os.File, what string, rec bool) error {
	flags := uintptr(unix.MS_BIND)
	if rec {
		flags |= unix.MS_REC
	}
	return mountOn(f, what, fdPath(f), "", flags, "")
}

// OpenFile opens the regular file p inside the root for reading, following
// symlinks but only inside the root; a FIFO or device there is refused
// rather than blocked on.
func (r *Root) OpenFile(p string) (*os.File, error) {
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := kernel.Openat2(int(r.f.Fd()), relIn(p), &how)
	if err != nil {
		return nil, fmt.Errorf("open %s in root: %w", p, err)
	}
	f := os.NewFile(uintptr(fd), p)
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open %s in root: not a regular file", p)
	}
	return f, nil
}

// IsExecutable reports whether p, resolved inside the root, is an
// executable regular file.
func (r *Root) IsExecutable(p string) bool {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := kernel.Openat2(int(r.f.Fd()), relIn(p), &how)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0
}
