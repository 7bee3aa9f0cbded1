package rootfs

import (
	"fmt"
	"os"

	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

const (
	nosuidNodevNoexec = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	nosuidNodev       = unix.MS_NOSUID | unix.MS_NODEV
	// tmpfsFlags are the flags of nspawn's tmpfs mounts (/run, /tmp, /var).
	tmpfsFlags = nosuidNodev | unix.MS_STRICTATIME
)

// isFS fails unless f lies on a file system of type magic.
func isFS(f *os.File, what string, magic int64) error {
	var st unix.Statfs_t
	if err := kernel.Retry("fstatfs", func() error { return unix.Fstatfs(int(f.Fd()), &st) }); err != nil {
		return fmt.Errorf("statfs %s: %w", what, err)
	}
	if int64(st.Type) != magic {
		return fmt.Errorf("%s is not the expected file system after mounting (type %#x)", what, st.Type)
	}
	return nil
}

// hostSys mounts, unless the stage does (sysInside), a read-only sysfs of
// the network namespace the caller runs in (the host's, or the one of
// --network-namespace-path) at /sys. It runs as host root: a user
// namespace may not mount the sysfs of a network namespace it does not
// own.
func (r *Root) hostSys(s *Spec) error {
	if s.sysInside() {
		return nil
	}
	f, err := r.apiDir("/sys")
	if err != nil {
		return err
	}
	defer f.Close()
	return mountOn(f, "/sys", "sysfs", "sysfs", nosuidNodevNoexec|unix.MS_RDONLY, "")
}

// mountTmp mounts a tmpfs at p (a directory that must not be a symlink).
func (r *Root) mountTmp(p string, flags uintptr, data string) error {
	f, err := r.apiDir(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return mountOn(f, p, "tmpfs", "tmpfs", flags, data)
}

// mountRun mounts tmpfs /run with the /run/host files (sealed read-only
// later, by SealRunHost). /run/host belongs to the container's root, which
// creates the notify socket in it.
func (r *Root) mountRun(s *Spec) error {
	if err := r.mountTmp("/run", tmpfsFlags, s.tmpfsData("mode=0755")); err != nil {
		return err
	}
	host, err := r.apiDir("/run/host")
	if err != nil {
		return err
	}
	defer host.Close()
	dir, err := reopenDir(host)
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := s.chownAt(dir, ""); err != nil {
		return err
	}
	for name, data := range s.Host {
		if err := writeAt(dir, name, data, 0o444); err != nil {
			return err
		}
	}
	if err := makeInaccessible(dir); err != nil {
		return err
	}
	if err := r.mountIncoming(s); err != nil {
		return err
	}
	return r.bindOSRelease()
}

// bindOSRelease binds the host's os-release read-only (and nosuid, nodev,
// noexec) to /run/host/os-release, as nspawn does.
func (r *Root) bindOSRelease() error {
	for _, src := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if !exists(src) {
			continue
		}
		fd, err := kernel.RetryInt("open", func() (int, error) { return unix.Open(src, unix.O_PATH|unix.O_CLOEXEC, 0) })
		if err != nil {
			return fmt.Errorf("host os-release: %w", err)
		}
		source := os.NewFile(uintptr(fd), src)
		defer source.Close()
		target, err := r.mkfileAll("/run/host/" + HostOSRelease)
		if err != nil {
			return err
		}
		defer target.Close()
		return bindTree(source, target, "/run/host/os-release", false, attrLocked)
	}
	return nil
}

// makeInaccessible creates /run/host/inaccessible/ with an empty mode 0000
// node of each file type, as nspawn does: --inaccessible= binds them, and
// a booted systemd uses them instead of making its own.
func makeInaccessible(host *os.File) error {
	err := kernel.Retry("mkdirat", func() error { return unix.Mkdirat(int(host.Fd()), "inaccessible", 0o755) })
	if err != nil {
		return fmt.Errorf("create /run/host/inaccessible: %w", err)
	}
	fd, err := kernel.RetryInt("openat", func() (int, error) {
		return unix.Openat(int(host.Fd()), "inaccessible", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return fmt.Errorf("open /run/host/inaccessible: %w", err)
	}
	dir := os.NewFile(uintptr(fd), "/run/host/inaccessible")
	defer dir.Close()
	if err := writeAt(dir, "reg", nil, 0); err != nil {
		return err
	}
	old := unix.Umask(0)
	defer unix.Umask(old)
	nodes := []struct {
		name string
		mode uint32
	}{{"dir", unix.S_IFDIR}, {"fifo", unix.S_IFIFO}, {"sock", unix.S_IFSOCK}, {"chr", unix.S_IFCHR}, {"blk", unix.S_IFBLK}}
	for _, n := range nodes {
		err := kernel.Retry("mknodat", func() error {
			if n.mode == unix.S_IFDIR {
				return unix.Mkdirat(fd, n.name, 0)
			}
			return unix.Mknodat(fd, n.name, n.mode, 0)
		})
		if err != nil {
			return fmt.Errorf("create /run/host/inaccessible/%s: %w", n.name, err)
		}
	}
	return nil
}

// reopenDir turns an O_PATH directory handle into one usable with *at
// calls that create entries.
func reopenDir(f *os.File) (*os.File, error) {
	fd, err := kernel.RetryInt("openat", func() (int, error) {
		return unix.Openat(int(f.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("reopen %s: %w", f.Name(), err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// writeAt creates file name in dir (which must not have it yet) with data.
func writeAt(dir *os.File, name string, data []byte, mode uint32) error {
	fd, err := kernel.RetryInt("openat", func() (int, error) {
		return unix.Openat(int(dir.Fd()), name,
			unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, mode)
	})
	if err != nil {
		return fmt.Errorf("create %s/%s: %w", dir.Name(), name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s/%s: %w", dir.Name(), name, err)
	}
	return nil
}
