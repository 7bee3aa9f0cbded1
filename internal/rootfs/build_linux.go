package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/nspawnopts"
	"golang.org/x/sys/unix"
)

// Prepare builds the host half of the container tree, the part that needs
// host root (systemd-nspawn's outer child): the root (bind, idmapped,
// volatile or ephemeral), /dev with its device nodes, /run with /run/host,
// /tmp, /dev/shm, the host's /sys without a private network, the custom
// mounts, the journal link and the /etc files of --resolv-conf and
// --timezone. It runs in the caller's private mount namespace, which the
// container's namespaces are then copied from (the caller starts the
// container's first process with its working directory on the root, see
// Enter); the stage of package spawn does the rest there. With a user
// namespace, what Prepare creates belongs to the namespace's root.
// The caller must be locked to its OS thread.
func Prepare(s *Spec) (*Root, error) {
	dir, err := filepath.Abs(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	r, err := setupRoot(dir, s)
	if err != nil {
		return nil, err
	}
	if s.UserNS {
		r.creator = s.Shift
	}
	steps := []func() error{
		func() error { return r.mountDev(s) },
		func() error { return r.mountRun(s) },
		func() error { return r.mountTmp("/tmp", tmpfsFlags, s.tmpfsData("mode=1777")) },
		func() error { return r.hostSys(s) },
		func() error { return r.customMounts(s) },
		func() error { return r.apiUncovered(s) },
		func() error { return r.linkJournal(s) },
		func() error { return r.etcFiles(s) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// Enter makes the root the calling thread's working directory: a process
// started next, in a new mount namespace, begins in the copy of the root.
func (r *Root) Enter() error {
	return kernel.Retry("fchdir", func() error { return unix.Fchdir(int(r.f.Fd())) })
}

// Detach leaves the root and removes the mounts Prepare stacked on the
// image directory from the caller's mount namespace (the container keeps
// its copies), so that the next Prepare starts from the image again. It
// closes r.
func (r *Root) Detach() error {
	defer r.Close()
	if err := kernel.Retry("chdir", func() error { return unix.Chdir("/") }); err != nil {
		return fmt.Errorf("leave root: %w", err)
	}
	for ; r.stacked > 0; r.stacked-- {
		if err := kernel.Retry("umount2", func() error { return unix.Unmount(r.base, unix.MNT_DETACH) }); err != nil {
			return fmt.Errorf("detach %s: %w", r.base, err)
		}
	}
	return nil
}

// setupRoot makes the root a mount point of its own: a plain bind mount of
// the image, or a volatile/ephemeral variant built on a tmpfs.
func setupRoot(dir string, s *Spec) (*Root, error) {
	stacked := 0
	if s.PivotRoot != "" {
		n, err := pivotImage(dir, s)
		if err != nil {
			unstack(dir, n)
			return nil, err
		}
		pivoted := *s
		pivoted.RootTree = 0
		s, stacked = &pivoted, n
	}
	image, err := openRoot(dir)
	if err != nil {
		unstack(dir, stacked)
		return nil, err
	}
	defer image.Close()
	if s.RootTree != 0 && (s.Ephemeral || s.Volatile == nspawnopts.VolatileOverlay || s.Volatile == nspawnopts.VolatileYes) {
		// The idmapped image is the lower layer (or the /usr source).
		if err := attachTree(s.RootTree, image.f, dir, 0); err != nil {
			return nil, err
		}
		image.Close()
		if image, err = openRoot(dir); err != nil {
			return nil, err
		}
		stacked++
	}
	r, err := stackRoot(dir, image, s)
	if err != nil {
		unstack(dir, stacked)
		return nil, err
	}
	r.base, r.stacked = dir, r.stacked+stacked
	return r, nil
}

// unstack removes n mounts stacked on dir.
func unstack(dir string, n int) {
	for ; n > 0; n-- {
		_ = kernel.Retry("umount2", func() error { return unix.Unmount(dir, unix.MNT_DETACH) })
	}
}

// stackRoot mounts the root of s's mode on dir.
func stackRoot(dir string, image *Root, s *Spec) (*Root, error) {
	switch {
	case s.Ephemeral || s.Volatile == nspawnopts.VolatileOverlay:
		return overlayRoot(dir, image, s)
	case s.Volatile == nspawnopts.VolatileYes:
		return tmpfsRoot(dir, image, s)
	}
	if err := mountImage(image, dir, s); err != nil {
		return nil, err
	}
	r, err := openRoot(dir)
	if err != nil {
		return nil, err
	}
	r.stacked = 1
	if s.Volatile == nspawnopts.VolatileState {
		if err := r.mountTmp("/var", tmpfsFlags, s.tmpfsData("mode=0755")); err != nil {
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
func overlayRoot(dir string, image *Root, s *Spec) (*Root, error) {
	if err := mount("tmpfs", dir, "tmpfs", nosuidNodev, "mode=0755"); err != nil {
		return nil, fmt.Errorf("mount tmpfs for the volatile root: %w", err)
	}
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			_ = unix.Unmount(dir, unix.MNT_DETACH)
			return nil, fmt.Errorf("volatile root: %w", err)
		}
	}
	if err := s.chown(filepath.Join(dir, "upper")); err != nil {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		return nil, err
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", fdPath(image.f),
		filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	top := filepath.Join(dir, "root")
	if err := mount("overlay", top, "overlay", 0, opts); err != nil {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		return nil, fmt.Errorf("mount overlay root: %w", err)
	}
	r, err := openRoot(top)
	if err != nil {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		return nil, err
	}
	r.stacked = 1
	return r, nil
}

// tmpfsRoot mounts a tmpfs as the root with the image's /usr bound
// read-only into it (--volatile=yes).
func tmpfsRoot(dir string, image *Root, s *Spec) (*Root, error) {
	usr, err := image.openIn("/usr", false)
	if err != nil {
		return nil, fmt.Errorf("--volatile=yes needs /usr in the image: %w", err)
	}
	defer usr.Close()
	if err := mount("tmpfs", dir, "tmpfs", nosuidNodev, s.tmpfsData("mode=0755")); err != nil {
		return nil, fmt.Errorf("mount tmpfs root: %w", err)
	}
	r, err := openRoot(dir)
	if err != nil {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		return nil, err
	}
	r.stacked = 1
	target, err := r.apiDir("/usr")
	if err == nil {
		err = bindTree(usr, target, "/usr", true, attrRO)
		target.Close()
	}
	if err == nil {
		err = r.baseFilesystem(s)
	}
	if err != nil {
		r.Close()
		_ = unix.Unmount(dir, unix.MNT_DETACH)
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
func (r *Root) baseFilesystem(s *Spec) error {
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
		if err := s.chownAt(root, d.name); err != nil {
			return err
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

// apiUncovered checks, after the custom mounts, that nothing covers /proc
// and /sys: the stage mounts the kernel's file systems there, and a bind
// below them (a fake procfs) is refused rather than hidden.
func (r *Root) apiUncovered(s *Spec) error {
	rootID, err := mountID(r.f, "/")
	if err != nil {
		return err
	}
	for _, p := range []string{"/proc", "/sys"} {
		f, err := r.openIn(p, true)
		if errors.Is(err, unix.ENOENT) {
			continue // the stage creates it
		}
		if err != nil {
			return err
		}
		if p == "/sys" && !s.sysInside() {
			err = isFS(f, p, unix.SYSFS_MAGIC)
		} else if id, idErr := mountID(f, p); idErr != nil || id != rootID {
			err = errors.Join(idErr, fmt.Errorf("%s is not the expected file system after the custom mounts (something is mounted on it)", p))
		}
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// mountID returns the ID of the mount f lies on.
func mountID(f *os.File, what string) (uint64, error) {
	var stx unix.Statx_t
	err := kernel.Retry("statx", func() error {
		return unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx)
	})
	if err != nil {
		return 0, fmt.Errorf("statx %s: %w", what, err)
	}
	return stx.Mnt_id, nil
}
