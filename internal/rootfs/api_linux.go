package rootfs

import (
	"crypto/rand"
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

// procReadOnly are the /proc entries made read-only, as nspawn does.
var procReadOnly = []string{"sys", "sysrq-trigger", "acpi", "bus", "fs", "irq"}

// mountProc mounts a procfs for the caller's PID namespace at /proc and
// makes the kernel tunables read-only.
func (r *Root) mountProc(s *Spec) error {
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
	if !s.PrivateNetwork {
		return nil
	}
	// The container's own network namespace is its to configure.
	net, err := r.openIn("/proc/sys/net", true)
	if err != nil {
		return err
	}
	defer net.Close()
	return bindSelf(net, "/proc/sys/net", false)
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
	return remountRO(g, p, attrLocked)
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

// hostSys mounts, unless Finish does (sysInside), a read-only sysfs of
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

// mountSys mounts, for the container's own network namespace, a
// read-only tmpfs at /sys with that namespace's sysfs directories bound in
// (as nspawn does) and, when asked, cgroup2 at /sys/fs/cgroup.
func (r *Root) mountSys(s *Spec) error {
	if s.sysInside() {
		f, err := r.apiDir("/sys")
		if err != nil {
			return err
		}
		err = r.sysForNetNS(f)
		f.Close()
		if err != nil {
			return err
		}
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

// sysDirs are the sysfs directories bound into /sys for a private network.
var sysDirs = []string{"block", "bus", "class", "dev", "devices", "kernel"}

// sysForNetNS mounts a tmpfs at /sys holding read-only binds of a fresh
// sysfs (of the container's network namespace) and an fs/cgroup mount
// point, then makes the tmpfs read-only.
func (r *Root) sysForNetNS(sys *os.File) error {
	if err := mountOn(sys, "/sys", "tmpfs", "tmpfs", nosuidNodevNoexec, "mode=0755"); err != nil {
		return err
	}
	sysfs, err := detachedMount("sysfs")
	if err != nil {
		return err
	}
	defer sysfs.Close()
	for _, d := range append(sysDirs, "fs/cgroup") {
		target, err := r.mkdirAll("/sys/" + d)
		if err != nil {
			return err
		}
		if d != "fs/cgroup" {
			err = bindSub(sysfs, d, target)
		}
		target.Close()
		if err != nil {
			return err
		}
	}
	top, err := r.openIn("/sys", true)
	if err != nil {
		return err
	}
	defer top.Close()
	return remountRO(top, "/sys", attrNoDevSUID|unix.MOUNT_ATTR_NOEXEC)
}

// detachedMount creates a new, unattached mount of fstype (fsopen and
// fsmount) and returns its handle.
func detachedMount(fstype string) (*os.File, error) {
	fs, err := kernel.RetryInt("fsopen", func() (int, error) { return unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC) })
	if err != nil {
		return nil, fmt.Errorf("new %s: %w", fstype, err)
	}
	defer unix.Close(fs)
	if err := kernel.Retry("fsconfig", func() error { return unix.FsconfigCreate(fs) }); err != nil {
		return nil, fmt.Errorf("new %s: %w", fstype, err)
	}
	attrs := unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC
	m, err := kernel.RetryInt("fsmount", func() (int, error) { return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, attrs) })
	if err != nil {
		return nil, fmt.Errorf("mount new %s: %w", fstype, err)
	}
	return os.NewFile(uintptr(m), fstype), nil
}

// bindSub binds directory sub of the detached mount m onto target.
func bindSub(m *os.File, sub string, target *os.File) error {
	tree, err := kernel.RetryInt("open_tree", func() (int, error) {
		return unix.OpenTree(int(m.Fd()), sub, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	})
	if err != nil {
		return fmt.Errorf("bind /sys/%s: %w", sub, err)
	}
	defer unix.Close(tree)
	return kernel.Retry("move_mount", func() error {
		return unix.MoveMount(tree, "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	})
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

// procExtras hides /proc/kmsg and gives the container its own boot ID, as
// nspawn does. It runs once /run exists.
func (r *Root) procExtras() error {
	if kmsg, err := r.openIn("/proc/kmsg", true); err == nil {
		defer kmsg.Close()
		node, err := r.openIn("/run/host/inaccessible/reg", true)
		if err != nil {
			return err
		}
		defer node.Close()
		if err := bindTree(node, kmsg, "/proc/kmsg", false, attrNoDevSUID); err != nil {
			return err
		}
	}
	return r.bootID()
}

// bootID binds a fresh random ID over /proc/sys/kernel/random/boot_id,
// from a file on the /run tmpfs that is unlinked at once.
func (r *Root) bootID() error {
	target, err := r.openIn("/proc/sys/kernel/random/boot_id", true)
	if err != nil {
		return nil
	}
	defer target.Close()
	runPath, err := r.openIn("/run", true)
	if err != nil {
		return err
	}
	defer runPath.Close()
	run, err := reopenDir(runPath)
	if err != nil {
		return err
	}
	defer run.Close()
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	name := fmt.Sprintf(".#proc-sys-kernel-random-boot-id%x", b[:8])
	id := fmt.Sprintf("%x-%x-%x-%x-%x\n", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	if err := writeAt(run, name, []byte(id), 0o444); err != nil {
		return err
	}
	defer unix.Unlinkat(int(run.Fd()), name, 0)
	src, err := kernel.RetryInt("openat", func() (int, error) {
		return unix.Openat(int(run.Fd()), name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return fmt.Errorf("boot id: %w", err)
	}
	source := os.NewFile(uintptr(src), name)
	defer source.Close()
	return bindTree(source, target, "/proc/sys/kernel/random/boot_id", false, attrLocked)
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

// SealRunHost makes /run/host read-only (a recursive bind onto itself, so
// it works below mounts a user namespace may not split). It runs after
// pivot_root, once the notify socket exists.
func SealRunHost() error {
	fd, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open("/run/host", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return fmt.Errorf("open /run/host: %w", err)
	}
	host := os.NewFile(uintptr(fd), "/run/host")
	defer host.Close()
	return bindTree(host, host, "/run/host", true, attrLocked)
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
