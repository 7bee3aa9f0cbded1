//go:build linux

package machine

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// tempSeq numbers the temp files of writeAtomic.
var tempSeq atomic.Uint64

// writeAtomic writes data to dir/name through a new temp file in dir:
// write, fsync, rename, fsync of dir. The file gets mode 0644.
func writeAtomic(dir, name string, data []byte) error {
	var tmp string
	var fd int
	for {
		tmp = filepath.Join(dir, tempPrefix+name+"."+strconv.Itoa(os.Getpid())+"."+strconv.FormatUint(tempSeq.Add(1), 10))
		var err error
		fd, err = kernel.RetryInt("open", func() (int, error) {
			return unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		})
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	err := writeSyncFD(fd, data)
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = os.NewSyscallError("close", cerr)
	}
	if err == nil {
		err = kernel.Retry("rename", func() error { return unix.Rename(tmp, filepath.Join(dir, name)) })
	}
	if err != nil {
		_ = unix.Unlink(tmp)
		return err
	}
	return syncDir(dir)
}

// writeSyncFD writes data to fd, sets mode 0644 (whatever the umask) and
// syncs.
func writeSyncFD(fd int, data []byte) error {
	for len(data) > 0 {
		n, err := kernel.RetryInt("write", func() (int, error) { return unix.Write(fd, data) })
		if err != nil {
			return err
		}
		data = data[n:]
	}
	if err := kernel.Retry("fchmod", func() error { return unix.Fchmod(fd, 0o644) }); err != nil {
		return err
	}
	return kernel.Retry("fsync", func() error { return unix.Fsync(fd) })
}

// syncDir fsyncs directory dir.
func syncDir(dir string) error {
	fd, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return kernel.Retry("fsync", func() error { return unix.Fsync(fd) })
}
