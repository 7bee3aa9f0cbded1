package kernel

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Openat2Retries bounds how many times Openat2 tries again after EAGAIN.
const Openat2Retries = 128

// Openat2 is openat2(2) retried on EINTR and, a bounded number of times,
// on EAGAIN: a lookup scoped with RESOLVE_IN_ROOT or RESOLVE_BENEATH
// fails with EAGAIN when any rename or mount on the system raced with it
// (a ".." was crossed while the rename or mount sequence count moved), and
// the kernel asks the caller to try again. The error is an
// *os.SyscallError named "openat2". It needs whatever access the lookup
// needs.
func Openat2(dirfd int, path string, how *unix.OpenHow) (int, error) {
	return retryAgain(func() (int, error) { return unix.Openat2(dirfd, path, how) })
}

// retryAgain runs fn as RetryInt does, trying again after EAGAIN up to
// Openat2Retries times.
func retryAgain(fn func() (int, error)) (int, error) {
	for i := 0; ; i++ {
		fd, err := RetryInt("openat2", fn)
		if !errors.Is(err, unix.EAGAIN) || i == Openat2Retries {
			return fd, err
		}
	}
}
