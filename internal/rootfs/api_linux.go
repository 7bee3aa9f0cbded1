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
)

// procReadOnly are the /proc entries made read-only, as nspawn does.
var procReadOnly = []string{"sys", "sysrq-trigger", "acpi", "bus", "fs", "irq"}

// mountProc mounts a procfs for the caller's PID namespace at /proc and
// makes the kernel tunables read-only.
func (r *Root) mountProc() error {
	f, err := r.apiDir("/proc")
	if err != nil {
		return err
	}
	defer f.Close()
	if err := mountOn(f, "/proc", "proc", "proc", nosuidNodevNoexec, ""); err != nil {
		return err
	}
	proc, err := r.openIn("/proc", true)
	if err != nil {
		return err
	}
	defer proc.Close()
	if err := isFS(proc, "/proc", unix.PROC_SUPER_MAGIC); err != nil {
		return err
	}
	for _, e := range procReadOnly {
		if err := r.bindReadOnly("/proc/" + e); err != nil {
			return err
		}
	}
	return nil
}

// bindReadOnly bind-mounts p onto itself read-only; a missing p is skipped.
func (r *Root) bindReadOnly(p string) error {
	f, err := r.openIn(p, true)
	if err != nil {
		return nil
	}
	defer f.Close()
	if err := bindSelf(f, p, true); err != nil {
		return err
	}
	g, err := r.openIn(p, true)
	if err != nil {
		return err
	}
	defer g.Close()
	return remountRO(g, p, nosuidNodevNoexec)
}

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

// mountSys mounts a read-only sysfs at /sys and, when asked, cgroup2 at
// /sys/fs/cgroup.
func (r *Root) mountSys(s *Spec) error {
	f, err := r.apiDir("/sys")
	if err != nil {
		return err
	}
	defer f.Close()
	if err := mountOn(f, "/sys", "sysfs", "sysfs", nosuidNodevNoexec|unix.MS_RDONLY, ""); err != nil {
		return err
	}
	if !s.Cgroup {
		return nil
	}
	cg, err := r.openIn("/sys/fs/cgroup", true)
	if err != nil {
		return err
	}
	defer cg.Close()
	flags := uintptr(nosuidNodevNoexec)
	if !s.WritableCgroup {
		flags |= unix.MS_RDONLY
	}
	return mountOn(cg, "/sys/fs/cgroup", "cgroup2", "cgroup2", flags, "")
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

// mountRun mounts tmpfs /run with the /run/host files, read-only.
func (r *Root) mountRun(s *Spec) error {
	if err := r.mountTmp("/run", nosuidNodev, "mode=0755"); err != nil {
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
	for name, data := range s.Host {
		if err := writeAt(dir, name, data, 0o444); err != nil {
			return err
		}
	}
	return makeInaccessible(dir)
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

// SealRunHost makes /run/host read-only. It runs after pivot_root, once
// the notify socket exists.
func SealRunHost() error {
	if err := mount("/run/host", "/run/host", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind /run/host: %w", err)
	}
	flags := unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | nosuidNodevNoexec
	if err := mount("", "/run/host", "", uintptr(flags), ""); err != nil {
		return fmt.Errorf("remount /run/host read-only: %w", err)
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
