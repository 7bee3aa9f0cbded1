package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// journalDir is where a journal directory lives, in the host and in the
// guest.
const journalDir = "/var/log/journal"

// linkJournal applies --link-journal as systemd-nspawn does (setup_journal
// in nspawn.c). With J the host's journal directory (s.HostJournal) and ID
// the machine ID:
//
//   - guest, try-guest: J/ID becomes a symlink to the guest's
//     /var/log/journal/ID (a host path), so the host's journalctl finds
//     the guest's files; a directory already at J/ID must be empty and is
//     removed first;
//   - host, try-host: J/ID is created (J itself must exist) and bound onto
//     the guest's /var/log/journal/ID, so the guest journals into the host;
//   - auto: host mode when J/ID is a directory, guest mode when it is
//     already the symlink to this guest, nothing otherwise;
//   - no, or an ephemeral container: nothing.
//
// The try- modes and auto skip quietly what the plain modes fail on: a
// missing machine ID or one equal to the host's, a read-only image, a
// mount point at either end, a failed symlink or mkdir on the host.
func (r *Root) linkJournal(s *Spec) error {
	mode, try := journalMode(s.LinkJournal)
	if mode == "no" || s.Ephemeral {
		return nil
	}
	if err := journalIDUsable(s.MachineID); err != nil {
		return skipOr(try, err)
	}
	dirs := []string{"/var", "/var/log", journalDir}
	for _, d := range dirs {
		f, err := r.mkdirOwned(s, d)
		if err != nil {
			return skipOr(try && errors.Is(err, unix.EROFS), err)
		}
		f.Close()
	}
	host := filepath.Join(s.hostJournal(), s.MachineID)
	guest := path.Join(journalDir, s.MachineID)
	guestOnHost := filepath.Join(s.Dir, guest)
	if err := r.refuseMountPoints(host, guest); err != nil {
		return skipOr(try, err)
	}
	done, err := clearHostEntry(mode, host, guestOnHost)
	if err != nil || done {
		if done {
			err = r.guestJournal(s, guest)
		}
		return err
	}
	switch mode {
	case "guest":
		return r.linkGuest(s, host, guest, guestOnHost, try)
	case "host":
		if err := os.Mkdir(host, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return skipOr(try, fmt.Errorf("--link-journal: %w", err))
		}
	default: // auto: bind only what the host has
		if _, err := os.Lstat(host); err != nil {
			return nil
		}
	}
	return r.bindJournal(s, host, guest)
}

// journalMode splits a --link-journal value into guest, host, auto or no,
// and whether failing to link is fine.
func journalMode(v string) (mode string, try bool) {
	switch v {
	case "", "auto":
		return "auto", true
	case "try-guest", "try-host":
		return strings.TrimPrefix(v, "try-"), true
	}
	return v, false
}

// skipOr returns nil when failing is fine, err otherwise.
func skipOr(skip bool, err error) error {
	if skip {
		return nil
	}
	return err
}

// journalIDUsable says whether id can name the guest's journal: present,
// and not the host's own machine ID.
func journalIDUsable(id string) error {
	if id == "" {
		return errors.New("--link-journal: the container has no machine ID")
	}
	host, _ := os.ReadFile("/etc/machine-id")
	if strings.TrimSpace(string(host)) == id {
		return fmt.Errorf("--link-journal: host and container machine IDs are equal (%s), refusing to link journals", id)
	}
	return nil
}

// hostJournal returns the host's journal directory.
func (s *Spec) hostJournal() string {
	if s.HostJournal != "" {
		return s.HostJournal
	}
	return journalDir
}

// mkdirOwned opens directory p inside the root, creating it (the parent
// must exist) for the user namespace's root when it is missing.
func (r *Root) mkdirOwned(s *Spec, p string) (*os.File, error) {
	if f, err := r.openIn(p, false); err == nil {
		return f, nil
	}
	f, err := r.mkdirAll(p)
	if err != nil {
		return nil, err
	}
	if err := s.chownAt(f, ""); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// refuseMountPoints fails when the host's or the guest's journal
// directory is a mount point already.
func (r *Root) refuseMountPoints(host, guest string) error {
	if isMountPoint(host) {
		return fmt.Errorf("--link-journal: %s is a mount point already, refusing to use it for the journal", host)
	}
	f, err := r.openIn(guest, false)
	if err != nil {
		return nil
	}
	defer f.Close()
	if isMountPoint(fdPath(f)) {
		return fmt.Errorf("--link-journal: %s in the container is a mount point already, refusing to use it for the journal", guest)
	}
	return nil
}

// isMountPoint reports whether p (not followed if a symlink) is the root
// of a mount.
func isMountPoint(p string) bool {
	var st unix.Statx_t
	err := kernel.Retry("statx", func() error {
		return unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &st)
	})
	return err == nil && st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 &&
		st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}

// clearHostEntry deals with what is at the host's journal entry already:
// a symlink to this guest is kept in guest and auto mode (done: only the
// guest's directory is missing), any other symlink is removed, and in
// guest mode a directory is removed (it must be empty).
func clearHostEntry(mode, host, guestOnHost string) (done bool, err error) {
	target, err := os.Readlink(host)
	switch {
	case err == nil:
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(host), target)
		}
		if (mode == "guest" || mode == "auto") && filepath.Clean(target) == filepath.Clean(guestOnHost) {
			return true, nil
		}
		if err := os.Remove(host); err != nil {
			return false, fmt.Errorf("--link-journal: remove symlink %s: %w", host, err)
		}
	case errors.Is(err, unix.EINVAL) && mode == "guest":
		if err := kernel.Retry("rmdir", func() error { return unix.Rmdir(host) }); err != nil {
			return false, fmt.Errorf("--link-journal: %s exists and cannot be replaced by a symlink: %w", host, err)
		}
	case err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, os.ErrNotExist):
		return false, fmt.Errorf("--link-journal: %w", err)
	}
	return false, nil
}

// linkGuest points the host's entry at the guest's journal directory and
// creates that.
func (r *Root) linkGuest(s *Spec, host, guest, guestOnHost string, try bool) error {
	if err := os.Symlink(guestOnHost, host); err != nil {
		return skipOr(try, fmt.Errorf("--link-journal: %w", err))
	}
	return r.guestJournal(s, guest)
}

// guestJournal creates the guest's journal directory.
func (r *Root) guestJournal(s *Spec, guest string) error {
	f, err := r.mkdirOwned(s, guest)
	if err != nil {
		return fmt.Errorf("--link-journal: %w", err)
	}
	return f.Close()
}

// bindJournal binds the host's journal directory onto the guest's.
func (r *Root) bindJournal(s *Spec, host, guest string) error {
	fd, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open(host, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return fmt.Errorf("--link-journal: open %s: %w", host, err)
	}
	source := os.NewFile(uintptr(fd), host)
	defer source.Close()
	target, err := r.mkdirOwned(s, guest)
	if err != nil {
		return fmt.Errorf("--link-journal: %w", err)
	}
	defer target.Close()
	return bindTree(source, target, guest, false, 0)
}
