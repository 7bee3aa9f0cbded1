//go:build linux

package machine

import (
	"errors"
	"os"
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
//
// The paths are built on the stack (see kernel.Path): a registration writes a
// state file, and leaves no garbage doing so.
func writeAtomic(dir, name string, data []byte) error {
	var tmp kernel.Path
	var fd int
	for {
		tmp = kernel.Path{}
		tmp.Add(dir).Add("/" + tempPrefix).Add(name).Add(".").AddUint(uint64(os.Getpid())).Add(".").AddUint(tempSeq.Add(1))
		var err error
		fd, err = kernel.OpenPath(&tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
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
		var final kernel.Path
		err = kernel.RenamePath(&tmp, final.Add(dir).Add("/").Add(name))
	}
	if err != nil {
		_ = kernel.UnlinkPath(&tmp)
	}
	return err
}

// removeFile deletes the file dir/name, its path built on the stack.
func removeFile(dir, name string) error {
	var p kernel.Path
	return kernel.UnlinkPath(p.Add(dir).Add("/").Add(name))
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
