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
// write, rename. The file gets mode 0644. Nothing is synced, as machined
// syncs nothing of its state: a file in the runtime directory describes
// processes that a crash of the kernel ends too, and the rename alone is
// atomic for the crash of berthd, whose kernel keeps the written pages.
// An fsync here took from one to tens of milliseconds on a busy disk, in
// the way of every registration's reply.
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
	err := writeFD(fd, data)
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = os.NewSyscallError("close", cerr)
	}
	if err == nil {
		err = kernel.Retry("rename", func() error { return unix.Rename(tmp, filepath.Join(dir, name)) })
	}
	if err != nil {
		_ = unix.Unlink(tmp)
	}
	return err
}

// writeFD writes data to fd and sets mode 0644 (whatever the umask).
func writeFD(fd int, data []byte) error {
	for len(data) > 0 {
		n, err := kernel.RetryInt("write", func() (int, error) { return unix.Write(fd, data) })
		if err != nil {
			return err
		}
		data = data[n:]
	}
	return kernel.Retry("fchmod", func() error { return unix.Fchmod(fd, 0o644) })
}
