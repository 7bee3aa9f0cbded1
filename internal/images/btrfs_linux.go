package images

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// btrfs ioctls (linux/btrfs.h).
const (
	btrfsIocSnapCreateV2   = 0x50009417
	btrfsIocSubvolCreate   = 0x5000940e
	btrfsIocSnapDestroy    = 0x5000940f
	btrfsIocSubvolGetflags = 0x80089419
	btrfsIocSubvolSetflags = 0x4008941a
	btrfsSubvolRdonly      = 1 << 1
	btrfsFirstFreeObjectid = 256
	btrfsNameMax           = 4039
)

// btrfsVolArgsV2 is struct btrfs_ioctl_vol_args_v2.
type btrfsVolArgsV2 struct {
	fd      int64
	transid uint64
	flags   uint64
	unused  [4]uint64
	name    [btrfsNameMax + 1]byte
}

// btrfsVolArgs is struct btrfs_ioctl_vol_args.
type btrfsVolArgs struct {
	fd   int64
	name [4087 + 1]byte
}

// isSubvolume reports whether the open directory fd is a btrfs subvolume
// root.
func isSubvolume(fd int, sfs *unix.Statfs_t) bool {
	if sfs.Type != unix.BTRFS_SUPER_MAGIC {
		return false
	}
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Ino == btrfsFirstFreeObjectid
}

// onBtrfs reports whether fd is on btrfs.
func onBtrfs(fd int) bool {
	var sfs unix.Statfs_t
	return unix.Fstatfs(fd, &sfs) == nil && sfs.Type == unix.BTRFS_SUPER_MAGIC
}

// subvolReadOnly reports whether the subvolume at fd is read-only.
func subvolReadOnly(fd int) bool {
	var flags uint64
	err := ioctlPtr(fd, btrfsIocSubvolGetflags, unsafe.Pointer(&flags))
	return err == nil && flags&btrfsSubvolRdonly != 0
}

// setSubvolReadOnly sets or clears the read-only flag of the subvolume fd.
func setSubvolReadOnly(fd int, ro bool) error {
	var flags uint64
	if err := ioctlPtr(fd, btrfsIocSubvolGetflags, unsafe.Pointer(&flags)); err != nil {
		return fmt.Errorf("subvolume flags: %w", err)
	}
	if ro {
		flags |= btrfsSubvolRdonly
	} else {
		flags &^= btrfsSubvolRdonly
	}
	if err := ioctlPtr(fd, btrfsIocSubvolSetflags, unsafe.Pointer(&flags)); err != nil {
		return fmt.Errorf("subvolume flags: %w", err)
	}
	return nil
}

// snapshot creates dstDir/name as a snapshot of the subvolume srcFd.
func snapshot(srcFd, dstDir int, name string, ro bool) error {
	var args btrfsVolArgsV2
	if len(name) > btrfsNameMax {
		return fmt.Errorf("snapshot %s: name too long", name)
	}
	args.fd = int64(srcFd)
	copy(args.name[:], name)
	if ro {
		args.flags = btrfsSubvolRdonly
	}
	return ioctlPtr(dstDir, btrfsIocSnapCreateV2, unsafe.Pointer(&args))
}

// createSubvolume creates dir/name as an empty subvolume.
func createSubvolume(dir int, name string) error {
	var args btrfsVolArgs
	copy(args.name[:], name)
	return ioctlPtr(dir, btrfsIocSubvolCreate, unsafe.Pointer(&args))
}

// destroySubvolume deletes the (empty or not) subvolume dir/name.
func destroySubvolume(dir int, name string) error {
	var args btrfsVolArgs
	copy(args.name[:], name)
	return ioctlPtr(dir, btrfsIocSnapDestroy, unsafe.Pointer(&args))
}

// ioctlPtr issues an ioctl with a pointer argument, retrying EINTR.
func ioctlPtr(fd int, req uintptr, arg unsafe.Pointer) error {
	return kernel.Retry("ioctl", func() error {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
		if errno != 0 {
			return errno
		}
		return nil
	})
}
