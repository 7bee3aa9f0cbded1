package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// IncomingDir is where the container sees its host propagation directory,
// as under systemd-nspawn: a machine manager mounts something below the
// host side, the mount appears here, and the manager moves it into place
// from inside the container (machined's BindMount and MountImage).
const IncomingDir = "/run/host/incoming"

// PreparePropagation creates dir, the host propagation directory of one
// machine (paths.Paths.Run + "/propagate/NAME", like nspawn's
// /run/systemd/nspawn/propagate/NAME), and makes it a shared mount point
// (bound onto itself, as ip-netns does for /run/netns), so mounts made
// below it later reach the container's slave copy even on a host whose
// root mount is private. It must run in the host's mount namespace,
// before the spawner's private one is made; RemovePropagation undoes it.
func PreparePropagation(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("propagation directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o600); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("propagation directory: %w", err)
	}
	return makeShared(dir)
}

// RemovePropagation takes a machine's propagation directory away when the
// machine is gone: the mount point, with whatever a manager left mounted
// below it (detached), and the directory if it is then empty (anything
// else kept there belongs to the host).
func RemovePropagation(dir string) {
	if isMountPoint(dir) {
		_ = kernel.Retry("umount2", func() error { return unix.Unmount(dir, unix.MNT_DETACH) })
	}
	_ = unix.Rmdir(dir)
}

// makeShared makes dir a mount point with shared propagation.
func makeShared(dir string) error {
	if !isMountPoint(dir) {
		err := kernel.Retry("mount", func() error { return unix.Mount(dir, dir, "", unix.MS_BIND, "") })
		if err != nil {
			return fmt.Errorf("propagation directory: bind %s: %w", dir, err)
		}
	}
	if err := kernel.Retry("mount", func() error { return unix.Mount("", dir, "", unix.MS_SHARED, "") }); err != nil {
		return fmt.Errorf("propagation directory: share %s: %w", dir, err)
	}
	return nil
}

// mountIncoming binds the host propagation directory s.Incoming read-only
// at /run/host/incoming (mode 0600, the container root's). The bind keeps
// the source's propagation: in the spawner's namespace every mount is a
// slave, so the container's copy is a slave of the host's shared
// directory, and MS_MOVE out of it works inside the container. Nothing is
// done without s.Incoming.
func (r *Root) mountIncoming(s *Spec) error {
	if s.Incoming == "" {
		return nil
	}
	fd, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open(s.Incoming, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return fmt.Errorf("open %s: %w", s.Incoming, err)
	}
	source := os.NewFile(uintptr(fd), s.Incoming)
	defer source.Close()
	target, err := r.incomingDir(s)
	if err != nil {
		return err
	}
	defer target.Close()
	return bindTree(source, target, IncomingDir, false, attrRO)
}

// incomingDir creates and opens /run/host/incoming.
func (r *Root) incomingDir(s *Spec) (*os.File, error) {
	host, err := r.openIn(filepath.Dir(IncomingDir), true)
	if err != nil {
		return nil, err
	}
	defer host.Close()
	dir, err := reopenDir(host)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	name := filepath.Base(IncomingDir)
	err = kernel.Retry("mkdirat", func() error { return unix.Mkdirat(int(dir.Fd()), name, 0o600) })
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create %s: %w", IncomingDir, err)
	}
	if err := s.chownAt(dir, name); err != nil {
		return nil, err
	}
	return r.openIn(IncomingDir, true)
}
