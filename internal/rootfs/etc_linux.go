package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// resolvSources are the host files the --resolv-conf modes copy or bind.
var resolvSources = map[string]string{
	"host":   "/etc/resolv.conf",
	"static": "/usr/lib/systemd/resolv.conf",
	"uplink": "/run/systemd/resolve/resolv.conf",
	"stub":   "/run/systemd/resolve/stub-resolv.conf",
}

// etcFiles applies --resolv-conf and --timezone, last in Prepare (after the
// custom mounts, which may cover /etc). Like nspawn, a failure to adjust a
// guest file is not fatal: the guest keeps what it has. What it creates
// belongs to the user namespace's root, if any (see creating).
func (r *Root) etcFiles(s *Spec) error {
	r.resolvConf(s)
	r.timezone(s)
	return nil
}

// resolvConf applies --resolv-conf.
func (r *Root) resolvConf(s *Spec) {
	mode := s.ResolvConf
	if mode == "auto" {
		switch {
		case s.PrivateNetwork:
			return
		case exists("/etc/resolv.conf") && r.etcWritable(s):
			mode = "copy-host"
		case exists("/etc/resolv.conf"):
			mode = "bind-host"
		default:
			mode = "delete"
		}
	}
	how, from, _ := strings.Cut(mode, "-")
	switch how {
	case "off":
	case "delete":
		_ = r.remove("/etc/resolv.conf")
	case "copy", "replace":
		_ = r.copyIn(resolvSources[from], "/etc/resolv.conf", how == "replace")
	case "bind":
		_ = r.bindFile(resolvSources[from], "/etc/resolv.conf", r.etcWritable(s))
	}
}

// timezone applies --timezone, following the host's /etc/localtime link.
func (r *Root) timezone(s *Spec) {
	zone := hostZone()
	mode := s.Timezone
	if mode == "auto" {
		mode = "bind"
		if zone != "" && r.etcWritable(s) && r.has("/usr/share/zoneinfo/"+zone) {
			mode = "symlink"
		}
	}
	switch mode {
	case "delete":
		_ = r.remove("/etc/localtime")
	case "symlink":
		if zone != "" && r.has("/usr/share/zoneinfo/"+zone) {
			_ = r.remove("/etc/localtime")
			_ = r.symlink("../usr/share/zoneinfo/"+zone, "/etc/localtime")
		}
	case "copy":
		_ = r.copyIn("/etc/localtime", "/etc/localtime", true)
	case "bind":
		if zone != "" {
			_ = r.bindFile("/usr/share/zoneinfo/"+zone, r.resolved("/etc/localtime"), r.etcWritable(s))
		}
	}
}

// resolved returns where p leads inside the root, following symlinks
// inside it (the guest's /etc/localtime link to its zone file, which
// systemd-nspawn binds over, keeping the link); p itself when it does not
// lead to an existing file of the root.
func (r *Root) resolved(p string) string {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := kernel.Openat2(int(r.f.Fd()), p, &how)
	if err != nil {
		return p
	}
	defer unix.Close(fd)
	host, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	rel, ok := strings.CutPrefix(host, strings.TrimSuffix(r.Dir, "/")+"/")
	if err != nil || !ok {
		return p
	}
	return "/" + rel
}

// hostZone returns the host's time zone name from its /etc/localtime link.
func hostZone() string {
	link, err := os.Readlink("/etc/localtime")
	if err != nil {
		return ""
	}
	if _, zone, ok := strings.Cut(link, "/zoneinfo/"); ok && !strings.Contains(zone, "..") {
		return zone
	}
	return ""
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// has reports whether p exists inside the root.
func (r *Root) has(p string) bool {
	f, err := r.openIn(p, false)
	if err == nil {
		f.Close()
	}
	return err == nil
}

// etcWritable reports whether the guest's /etc can be written, by the
// container's root (the root is remounted read-only only after these
// files are set up).
func (r *Root) etcWritable(s *Spec) bool {
	if s.ReadOnly || s.Volatile == "state" {
		return false
	}
	f, err := r.openIn("/etc", false)
	if err != nil {
		return false
	}
	defer f.Close()
	check := func() error { return unix.Faccessat2(unix.AT_FDCWD, fdPath(f), unix.W_OK, unix.AT_EACCESS) }
	if r.creator == 0 {
		return check() == nil
	}
	// As the user namespace's root would see it (its file system IDs).
	return r.asCreator(check) == nil
}

// parentOf opens the directory of p inside the root (no symlink in the
// last component is followed by the caller's *at calls).
func (r *Root) parentOf(p string) (*os.File, error) {
	dir, err := r.openIn(path.Dir(p), false)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	return reopenDir(dir)
}

// remove deletes the file p of the guest (a symlink itself, never its
// target).
func (r *Root) remove(p string) error {
	dir, err := r.parentOf(p)
	if err != nil {
		return err
	}
	defer dir.Close()
	err = r.creating(func() error { return unix.Unlinkat(int(dir.Fd()), path.Base(p), 0) })
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// symlink creates the guest symlink p → target.
func (r *Root) symlink(target, p string) error {
	dir, err := r.parentOf(p)
	if err != nil {
		return err
	}
	defer dir.Close()
	return r.creating(func() error { return unix.Symlinkat(target, int(dir.Fd()), path.Base(p)) })
}

// copyIn copies the host file src to the guest file dst. An existing dst
// that is not a regular file is kept unless replace is set.
func (r *Root) copyIn(src, dst string, replace bool) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	dir, err := r.parentOf(dst)
	if err != nil {
		return err
	}
	defer dir.Close()
	return r.creating(func() error { return writeOver(dir, path.Base(dst), data, replace) })
}

// writeOver writes data to the file name of dir, creating it; an existing
// entry that is not a regular file is kept unless replace is set.
func writeOver(dir *os.File, name string, data []byte, replace bool) error {
	var st unix.Stat_t
	err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil && (st.Mode&unix.S_IFMT != unix.S_IFREG || replace) {
		if !replace {
			return fmt.Errorf("%s is not a regular file", name)
		}
		if err := unix.Unlinkat(int(dir.Fd()), name, 0); err != nil {
			return err
		}
	}
	fd, err := kernel.RetryInt("openat", func() (int, error) {
		return unix.Openat(int(dir.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	})
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.Write(data)
	return err
}

// bindFile binds the host file src read-only onto the guest file dst,
// creating dst when missing if create is set (a read-only root gets no new
// mount points, as with nspawn).
func (r *Root) bindFile(src, dst string, create bool) error {
	if !create && !r.has(dst) {
		return fmt.Errorf("%s is missing and the root is read-only", dst)
	}
	fd, err := kernel.RetryInt("open", func() (int, error) { return unix.Open(src, unix.O_PATH|unix.O_CLOEXEC, 0) })
	if err != nil {
		return err
	}
	source := os.NewFile(uintptr(fd), src)
	defer source.Close()
	target, err := r.mkfileAll(dst)
	if err != nil {
		return err
	}
	defer target.Close()
	return bindTree(source, target, dst, false, attrRO|attrNoDevSUID)
}
