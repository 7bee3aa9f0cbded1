package kernel

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Retry calls fn until it returns anything but EINTR and wraps a non-nil
// error as an *os.SyscallError named op.
func Retry(op string, fn func() error) error {
	for {
		err := fn()
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return os.NewSyscallError(op, err)
	}
}

// RetryInt is Retry for calls that also return an int (a file descriptor,
// a count).
func RetryInt(op string, fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return n, os.NewSyscallError(op, err)
	}
}
