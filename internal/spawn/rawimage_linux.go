package spawn

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/berth-dev/berth/internal/gpt"
	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// rawTypes are the file systems tried, in order, for a single-filesystem
// raw image (-i).
var rawTypes = []string{"ext4", "btrfs", "xfs", "erofs", "squashfs", "vfat"}

// mountRaw attaches the raw image at path to a loop device (freed when the
// last user goes) and returns a detached mount of its file system, for the
// spawner to attach in its mount namespace (attachRaw).
func mountRaw(path string, ro bool) (*os.File, error) {
	loop, dev, ro, err := attachLoop(path, ro)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	defer unix.Close(loop)
	var errs []error
	for _, t := range rawTypes {
		f, err := fsMount(t, dev, ro)
		if err == nil {
			return f, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", t, err))
	}
	return nil, fmt.Errorf("image %s: no file system berth-nspawn can mount (the image must hold one, or a GUID partition table with a root partition): %w", path, errors.Join(errs...))
}

// fsMount mounts dev with file system type t as a detached mount.
func fsMount(t, dev string, ro bool) (*os.File, error) {
	fs, err := kernel.RetryInt("fsopen", func() (int, error) { return unix.Fsopen(t, unix.FSOPEN_CLOEXEC) })
	if err != nil {
		return nil, err
	}
	defer unix.Close(fs)
	if err := unix.FsconfigSetString(fs, "source", dev); err != nil {
		return nil, err
	}
	if ro {
		if err := unix.FsconfigSetFlag(fs, "ro"); err != nil {
			return nil, err
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return nil, err
	}
	attrs := unix.MOUNT_ATTR_NODEV
	if ro {
		attrs |= unix.MOUNT_ATTR_RDONLY
	}
	m, err := kernel.RetryInt("fsmount", func() (int, error) { return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, attrs) })
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(m), dev), nil
}

// rootPartition returns where the root file system lies in the image:
// its root partition for a GUID-partitioned image, else the whole file
// (a zero Partition).
func rootPartition(img *os.File) (gpt.Partition, error) {
	st, err := img.Stat()
	if err != nil {
		return gpt.Partition{}, err
	}
	p, _, err := gpt.RootPartition(img, st.Size())
	return p, err
}

// attachLoop binds the file at path (its root partition, if it has a
// partition table) to a free loop device with autoclear and returns the
// device's descriptor and path, and whether it is read-only: as asked,
// or because the partition is marked so.
func attachLoop(path string, ro bool) (int, string, bool, error) {
	mode := unix.O_RDWR
	if ro {
		mode = unix.O_RDONLY
	}
	img, err := os.OpenFile(path, mode, 0)
	if err != nil {
		return -1, "", false, err
	}
	defer img.Close()
	part, err := rootPartition(img)
	if err != nil {
		return -1, "", false, err
	}
	if part.ReadOnly && !ro {
		return attachLoop(path, true)
	}
	back := int(img.Fd())
	ctl, err := kernel.RetryInt("open", func() (int, error) { return unix.Open("/dev/loop-control", unix.O_RDWR|unix.O_CLOEXEC, 0) })
	if err != nil {
		return -1, "", false, fmt.Errorf("loop control: %w", err)
	}
	defer unix.Close(ctl)
	for range 16 {
		n, err := unix.IoctlRetInt(ctl, unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return -1, "", false, fmt.Errorf("free loop device: %w", err)
		}
		dev := "/dev/loop" + strconv.Itoa(n)
		fd, err := kernel.RetryInt("open", func() (int, error) { return unix.Open(dev, mode|unix.O_CLOEXEC, 0) })
		if err != nil {
			return -1, "", false, err
		}
		cfg := unix.LoopConfig{Fd: uint32(back)}
		cfg.Info.Offset, cfg.Info.Sizelimit = uint64(part.Offset), uint64(part.Size)
		cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR
		if ro {
			cfg.Info.Flags |= unix.LO_FLAGS_READ_ONLY
		}
		if err = unix.IoctlLoopConfigure(fd, &cfg); err == nil {
			return fd, dev, ro, nil
		}
		unix.Close(fd)
		if !errors.Is(err, unix.EBUSY) {
			return -1, "", false, fmt.Errorf("configure %s: %w", dev, err)
		}
	}
	return -1, "", false, fmt.Errorf("no free loop device: %w", unix.EBUSY)
}
