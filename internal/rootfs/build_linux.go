package rootfs

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/nspawnopts"
	"golang.org/x/sys/unix"
)

// Build assembles the container tree described by s in the caller's
// (private) mount namespace and returns a handle on its root, ready for
// Pivot. The caller must be in its own mount, PID and cgroup namespaces.
func Build(s *Spec) (*Root, error) {
	if err := mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return nil, fmt.Errorf("make mounts private: %w", err)
	}
	dir, err := filepath.Abs(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	r, err := setupRoot(dir, s)
	if err != nil {
		return nil, err
	}
	steps := []func() error{
		func() error { return r.mountProc(s) },
		func() error { return r.mountSys(s) },
		r.mountDev,
		func() error { return r.mountRun(s) },
		r.procExtras,
		func() error { return r.mountTmp("/tmp", tmpfsFlags, "mode=1777") },
		func() error { return r.customMounts(s) },
		func() error { return r.verifyAPI(s) },
		func() error { return r.etcFiles(s) },
		func() error { return r.linkJournal(s) },
		func() error { return r.finishRoot(s) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// setupRoot makes the root a mount point of its own: a plain bind mount of
// the image, or a volatile/ephemeral variant built on a tmpfs.
func setupRoot(dir string, s *Spec) (*Root, error) {
	image, err := openRoot(dir)
	if err != nil {
		return nil, err
	}
	defer image.Close()
	switch {
	case s.Ephemeral || s.Volatile == nspawnopts.VolatileOverlay:
		return overlayRoot(dir, image)
	case s.Volatile == nspawnopts.VolatileYes:
		return tmpfsRoot(dir, image)
	}
	if err := mountImage(image, dir, s); err != nil {
		return nil, err
	}
	r, err := openRoot(dir)
	if err != nil {
		return nil, err
	}
	if s.Volatile == nspawnopts.VolatileState {
		if err := r.mountTmp("/var", tmpfsFlags, "mode=0755"); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// mountImage makes dir a mount point of the image: the idmapped tree of
// s.RootTree, or a bind mount of the image itself.
func mountImage(image *Root, dir string, s *Spec) error {
	if s.RootTree == 0 {
		return bindSelf(image.f, dir, true)
	}
	return attachTree(s.RootTree, image.f, dir, 0)
}

// overlayRoot mounts a tmpfs over dir (the image stays reachable through
// the image handle) and an overlay of the image with a writable layer on
// that tmpfs at dir/root.
func overlayRoot(dir string, image *Root) (*Root, error) {
	if err := mount("tmpfs", dir, "tmpfs", nosuidNodev, "mode=0755"); err != nil {
		return nil, fmt.Errorf("mount tmpfs for the volatile root: %w", err)
	}
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("volatile root: %w", err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", fdPath(image.f),
		filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	top := filepath.Join(dir, "root")
	if err := mount("overlay", top, "overlay", 0, opts); err != nil {
		return nil, fmt.Errorf("mount overlay root: %w", err)
	}
	return openRoot(top)
}

// tmpfsRoot mounts a tmpfs as the root with the image's /usr bound
// read-only into it (--volatile=yes).
func tmpfsRoot(dir string, image *Root) (*Root, error) {
	usr, err := image.openIn("/usr", false)
	if err != nil {
		return nil, fmt.Errorf("--volatile=yes needs /usr in the image: %w", err)
	}
	defer usr.Close()
	if err := mount("tmpfs", dir, "tmpfs", nosuidNodev, "mode=0755"); err != nil {
		return nil, fmt.Errorf("mount tmpfs root: %w", err)
	}
	r, err := openRoot(dir)
	if err != nil {
		return nil, err
	}
	target, err := r.apiDir("/usr")
	if err == nil {
		err = bindTree(usr, target, "/usr", true, attrRO)
		target.Close()
	}
	if err == nil {
		err = r.baseFilesystem()
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// baseDirs and baseLinks are systemd's base file system
// (src/shared/base-filesystem.c): what an empty root needs around /usr.
var (
	baseDirs = []struct {
		name string
		mode uint32
	}{{"var", 0o755}, {"etc", 0o755}, {"root", 0o750}, {"tmp", 0o1777}}
	baseLinks = []struct {
		name    string
		targets []string
	}{
		{"bin", []string{"usr/bin"}}, {"sbin", []string{"usr/sbin"}}, {"lib", []string{"usr/lib"}},
		{"lib64", []string{"usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "usr/lib64/ld-linux-x86-64.so.2"}},
	}
)

// baseFilesystem creates the base directories and the /usr symlinks whose
// targets exist in a fresh tmpfs root.
func (r *Root) baseFilesystem() error {
	root, err := reopenDir(r.f)
	if err != nil {
		return err
	}
	defer root.Close()
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range baseDirs {
		if err := unix.Mkdirat(int(root.Fd()), d.name, d.mode); err != nil && err != unix.EEXIST {
			return fmt.Errorf("volatile root: create /%s: %w", d.name, err)
		}
	}
	for _, l := range baseLinks {
		for _, t := range l.targets {
			if !r.has("/" + t) {
				continue
			}
			target := t
			if l.name == "lib64" {
				target = filepath.Dir(t)
			}
			if err := unix.Symlinkat(target, int(root.Fd()), l.name); err != nil && err != unix.EEXIST {
				return fmt.Errorf("volatile root: link /%s: %w", l.name, err)
			}
			break
		}
	}
	return nil
}

// verifyAPI checks, after the custom mounts, that /proc and /sys are still
// the kernel's file systems: a bind over them (a fake procfs) would make
// later /proc writes and fd paths lie (CVE-2019-16884).
func (r *Root) verifyAPI(s *Spec) error {
	sys := int64(unix.SYSFS_MAGIC)
	if s.PrivateNetwork {
		sys = unix.TMPFS_MAGIC
	}
	for _, m := range []struct {
		path  string
		magic int64
	}{{"/proc", unix.PROC_SUPER_MAGIC}, {"/sys", sys}} {
		f, err := r.openIn(m.path, true)
		if err != nil {
			return err
		}
		err = isFS(f, m.path, m.magic)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// finishRoot applies --read-only (and the read-only root of
// --volatile=state) last, once every mount point exists.
func (r *Root) finishRoot(s *Spec) error {
	if !s.ReadOnly && s.Volatile != nspawnopts.VolatileState {
		return nil
	}
	return remountRO(r.f, "/", 0)
}

// Pivot makes r the root of the mount namespace and detaches the old root.
// It closes r.
func (r *Root) Pivot() error {
	defer r.Close()
	if err := kernel.Retry("fchdir", func() error { return unix.Fchdir(int(r.f.Fd())) }); err != nil {
		return fmt.Errorf("enter root: %w", err)
	}
	if err := kernel.Retry("pivot_root", func() error { return unix.PivotRoot(".", ".") }); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := kernel.Retry("umount2", func() error { return unix.Unmount(".", unix.MNT_DETACH) }); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return kernel.Retry("chdir", func() error { return unix.Chdir("/") })
}
