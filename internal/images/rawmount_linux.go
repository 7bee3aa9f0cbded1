package images

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/gpt"
	"github.com/berth-dev/berth/internal/kernel"
)

// mountTypes are the file systems tried, in order, when mounting a raw or
// block image to read its metadata.
var mountTypes = []string{"ext4", "btrfs", "xfs", "erofs", "squashfs"}

// mountedMetadata reads the metadata of a raw or block image: it mounts
// the image read-only (nosuid, nodev, noexec; a raw file through a
// read-only, auto-clearing loop device) in a private mount namespace of a
// thread that exits afterwards, so the mount is never visible on the host
// and vanishes with the thread. The (empty) mount point is made under run.
func mountedMetadata(img Image, run string) (Metadata, error) {
	if err := os.MkdirAll(run, 0o755); err != nil {
		return Metadata{}, err
	}
	dir, err := os.MkdirTemp(run, "image-mount-")
	if err != nil {
		return Metadata{}, err
	}
	defer os.Remove(dir)
	type result struct {
		md  Metadata
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: the thread, and its mount namespace, end with
		// this goroutine.
		runtime.LockOSThread()
		md, err := readMounted(img, dir)
		ch <- result{md, err}
	}()
	r := <-ch
	return r.md, r.err
}

// readMounted runs on a locked thread: private mount namespace, mount,
// read.
func readMounted(img Image, dir string) (Metadata, error) {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return Metadata{}, fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return Metadata{}, fmt.Errorf("make mounts private: %w", err)
	}
	dev := img.Path
	if img.Type == Raw {
		loop, path, err := attachLoop(img.Path)
		if err != nil {
			return Metadata{}, err
		}
		defer unix.Close(loop)
		dev = path
	}
	if err := mountAny(dev, dir); err != nil {
		return Metadata{}, err
	}
	return readMetadata(dir)
}

// attachLoop binds file to a free loop device, read-only and cleared
// automatically when its last user goes away. It returns the open loop
// device and its path.
func attachLoop(file string) (int, string, error) {
	img, err := os.Open(file)
	if err != nil {
		return -1, "", fmt.Errorf("open image: %w", err)
	}
	defer img.Close()
	part, err := rootPartition(img)
	if err != nil {
		return -1, "", err
	}
	back := int(img.Fd())
	ctl, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open("/dev/loop-control", unix.O_RDWR|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return -1, "", fmt.Errorf("loop control: %w", err)
	}
	defer unix.Close(ctl)
	for range 16 {
		n, err := unix.IoctlRetInt(ctl, unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return -1, "", fmt.Errorf("free loop device: %w", err)
		}
		path := "/dev/loop" + strconv.Itoa(n)
		fd, err := kernel.RetryInt("open", func() (int, error) {
			return unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		})
		if err != nil {
			return -1, "", fmt.Errorf("open %s: %w", path, err)
		}
		cfg := unix.LoopConfig{Fd: uint32(back)}
		cfg.Info.Offset, cfg.Info.Sizelimit = uint64(part.Offset), uint64(part.Size)
		cfg.Info.Flags = unix.LO_FLAGS_READ_ONLY | unix.LO_FLAGS_AUTOCLEAR
		err = unix.IoctlLoopConfigure(fd, &cfg)
		if err == nil {
			return fd, path, nil
		}
		unix.Close(fd)
		if !errors.Is(err, unix.EBUSY) {
			return -1, "", fmt.Errorf("configure %s: %w", path, err)
		}
	}
	return -1, "", fmt.Errorf("no free loop device: %w", unix.EBUSY)
}

// rootPartition returns where the root file system lies in the image:
// its root partition for a GUID-partitioned image, else the whole file.
func rootPartition(img *os.File) (gpt.Partition, error) {
	st, err := img.Stat()
	if err != nil {
		return gpt.Partition{}, fmt.Errorf("stat image: %w", err)
	}
	p, _, err := gpt.RootPartition(img, st.Size())
	return p, err
}

// mountAny mounts dev on dir read-only with the first file system type
// that takes it.
func mountAny(dev, dir string) error {
	known, _ := os.ReadFile("/proc/filesystems")
	flags := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	var errs []error
	for _, t := range mountTypes {
		if !strings.Contains(string(known), "\t"+t+"\n") {
			continue
		}
		err := kernel.Retry("mount", func() error { return unix.Mount(dev, dir, t, flags, "") })
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", t, err))
	}
	return fmt.Errorf("mount image: no known file system: %w", errors.Join(append(errs, ErrNotSupported)...))
}
