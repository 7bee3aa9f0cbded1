package chownshift

import (
	"errors"
	"fmt"
	"path"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// journal records, on the top directory, what the chown of the file at rel
// is about to clear (setuid/setgid bits, capabilities), if anything. It is
// overwritten by the next file's entry and removed at the end. On file
// systems without trusted xattrs there is no journal.
func (w *walker) journal(rel string, st *unix.Stat_t, caps []byte) error {
	if rel == "" || st.Mode&unix.S_IFMT != unix.S_IFREG || (st.Mode&(unix.S_ISUID|unix.S_ISGID) == 0 && caps == nil) {
		return nil
	}
	v := pending{path: rel, mode: st.Mode & 07777, caps: caps}.marshal()
	err := w.x.set(node{dirfd: w.top}, xattrJournal, v)
	if err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("write journal: %w", err)
	}
	return nil
}

// clearJournal removes the journal entry at the end of a walk.
func (w *walker) clearJournal() error {
	err := kernel.Retry("fremovexattr", func() error { return unix.Fremovexattr(w.top, xattrJournal) })
	if err != nil && !errors.Is(err, unix.ENODATA) && !errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("clear journal: %w", err)
	}
	return nil
}

// replayJournal restores the mode and capabilities of the file an
// interrupted shift was changing, so the walk that follows sees the file as
// it was. A malformed entry, or one naming anything but a regular file
// below the top on the same file system, is ignored.
func (w *walker) replayJournal() error {
	v, err := w.x.get(node{dirfd: w.top}, xattrJournal)
	if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.EOPNOTSUPP) {
		return nil
	}
	if err != nil {
		return err
	}
	p, err := parsePending(v)
	if err != nil {
		return nil
	}
	dir, name := path.Split(p.path)
	dfd := w.top
	if dir != "" {
		how := &unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
		}
		dfd, err = kernel.Openat2(w.top, dir, how)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) {
			return nil
		}
		if err != nil {
			return err
		}
		defer unix.Close(dfd)
	}
	var st unix.Stat_t
	err = kernel.Retry("fstatat", func() error { return unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) })
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Dev != w.dev {
		return nil
	}
	n := node{dfd, name}
	if p.caps != nil {
		if err := w.x.set(n, xattrCaps, p.caps); err != nil {
			return err
		}
	}
	return chmod(n, p.mode)
}
