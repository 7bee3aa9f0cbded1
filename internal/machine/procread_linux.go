//go:build linux

package machine

import (
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// procFileMax bounds what readProc reads of a /proc file.
const procFileMax = 64 << 10

// readProc reads the /proc file at p into buf and returns the bytes
// read; a file larger than buf is read whole into a new buffer (up to
// procFileMax). A registration reads several /proc files: with a buffer
// on the caller's stack they leave no garbage behind.
func readProc(p *kernel.Path, buf []byte) ([]byte, error) {
	fd, err := kernel.OpenPath(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n := 0
	for {
		if n == len(buf) {
			if len(buf) >= procFileMax {
				return nil, unix.EFBIG
			}
			buf = append(buf, make([]byte, len(buf))...)
		}
		m, err := kernel.RetryInt("read", func() (int, error) { return unix.Read(fd, buf[n:]) })
		if err != nil {
			return nil, err
		}
		if m == 0 {
			return buf[:n], nil
		}
		n += m
	}
}
