package rootfs

import (
	"fmt"
	"os"

	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// devNode is a character device created in the container's /dev.
type devNode struct {
	name         string
	major, minor uint32
}

// devNodes are the standard nodes, as nspawn creates them.
var devNodes = []devNode{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8},
	{"urandom", 1, 9}, {"tty", 5, 0}, {"net/tun", 10, 200},
}

// devLinks are the standard symlinks: name → target.
var devLinks = [][2]string{
	{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
}

// mountDev mounts the container's /dev as host root: a tmpfs with the
// standard nodes (which a user namespace may not create) and links, and
// /dev/shm; the stage adds devpts and mqueue. The image's own
// /dev, /dev/pts, /dev/console and /dev/null must not be symlinks.
func (r *Root) mountDev(s *Spec) error {
	f, err := r.apiDir("/dev")
	if err != nil {
		return err
	}
	defer f.Close()
	if err := noSymlinks(f, "pts", "console", "null"); err != nil {
		return err
	}
	if err := mountOn(f, "/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, s.tmpfsData("mode=0755,size=4m")); err != nil {
		return err
	}
	devPath, err := r.openIn("/dev", true)
	if err != nil {
		return err
	}
	defer devPath.Close()
	dev, err := reopenDir(devPath)
	if err != nil {
		return err
	}
	defer dev.Close()
	if err := populateDev(dev, s); err != nil {
		return err
	}
	return r.mountTmp("/dev/shm", tmpfsFlags, s.tmpfsData("mode=1777"))
}

// noSymlinks fails if any of names in the directory f is a symlink.
func noSymlinks(f *os.File, names ...string) error {
	for _, n := range names {
		var st unix.Stat_t
		err := kernel.Retry("fstatat", func() error {
			return unix.Fstatat(int(f.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW)
		})
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return fmt.Errorf("%w: /dev/%s", ErrSymlink, n)
		}
	}
	return nil
}

// populateDev creates the nodes, links and mount point directories in the
// fresh tmpfs dev, owned by the container's root.
func populateDev(dev *os.File, s *Spec) error {
	for _, d := range []string{"pts", "shm", "mqueue", "net"} {
		if err := kernel.Retry("mkdirat", func() error { return unix.Mkdirat(int(dev.Fd()), d, 0o755) }); err != nil {
			return fmt.Errorf("create /dev/%s: %w", d, err)
		}
		if err := s.chownAt(dev, d); err != nil {
			return err
		}
	}
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, n := range devNodes {
		err := kernel.Retry("mknodat", func() error {
			return unix.Mknodat(int(dev.Fd()), n.name, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor)))
		})
		if err != nil {
			return fmt.Errorf("create /dev/%s: %w", n.name, err)
		}
		if err := s.chownAt(dev, n.name); err != nil {
			return err
		}
	}
	for _, l := range devLinks {
		if err := kernel.Retry("symlinkat", func() error { return unix.Symlinkat(l[1], int(dev.Fd()), l[0]) }); err != nil {
			return fmt.Errorf("create /dev/%s: %w", l[0], err)
		}
	}
	return nil
}
