//go:build linux

package kernel

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ReadNonblock and WritevNonblock are read(2) and writev(2) on a
// non-blocking file descriptor as raw system calls: the Go runtime is
// not told about them, which is right for calls that never block. A call
// through package syscall or unix tells the runtime it enters a system
// call, and when the process was idle that wakes the runtime's monitor
// thread (sysmon) from its sleep with a futex: a thread wake-up, often on
// the other CPU, and a few more context switches while the monitor polls,
// for each message a daemon answers between idle stretches. The three
// functions here return (n, true, nil) instead of EAGAIN, as an error
// value would be garbage on every wait, and retry EINTR.

// MaxWritevBuffers is how many non-empty buffers one WritevNonblock
// passes to the kernel; it leaves the rest of a longer list unwritten, as
// a short write would.
const MaxWritevBuffers = 4

// ReadNonblock reads into p from the non-blocking fd. again reports that
// there was nothing to read (EAGAIN); n is 0 at the end of the stream.
func ReadNonblock(fd int, p []byte) (n int, again bool, err error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	for {
		r, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(ptr), uintptr(len(p)))
		if n, again, done, err := nonblockResult("read", r, errno); done {
			return n, again, err
		}
	}
}

// WritevNonblock writes the non-empty buffers of bufs, the first
// MaxWritevBuffers of them, in order, to the non-blocking fd with one
// writev(2) and returns how many bytes it wrote, which may be fewer than
// their length. again reports that the kernel took nothing (EAGAIN).
func WritevNonblock(fd int, bufs [][]byte) (n int, again bool, err error) {
	var iov [MaxWritevBuffers]unix.Iovec
	k := 0
	for _, b := range bufs {
		if k == len(iov) {
			break
		}
		if len(b) > 0 {
			iov[k].Base = &b[0]
			iov[k].SetLen(len(b))
			k++
		}
	}
	if k == 0 {
		return 0, false, nil
	}
	for {
		r, _, errno := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(k))
		if n, again, done, err := nonblockResult("writev", r, errno); done {
			return n, again, err
		}
	}
}

// SendmsgNonblock sends p with the control message oob (such as
// unix.UnixRights) on the non-blocking socket fd, as sendmsg(2); like
// WritevNonblock, it may send only part of p. It is an ordinary system
// call (the rare messages that pass file descriptors need no raw one).
func SendmsgNonblock(fd int, p, oob []byte) (n int, again bool, err error) {
	for {
		n, err := unix.SendmsgN(fd, p, oob, nil, 0)
		errno, _ := err.(unix.Errno)
		if err != nil && errno == 0 {
			return 0, false, os.NewSyscallError("sendmsg", err)
		}
		if n, again, done, err := nonblockResult("sendmsg", uintptr(max(n, 0)), errno); done {
			return n, again, err
		}
	}
}

// nonblockResult turns a system call's result into what the functions
// above return; done is false after EINTR, to try again.
func nonblockResult(op string, r uintptr, errno unix.Errno) (n int, again, done bool, err error) {
	switch errno {
	case 0:
		return int(r), false, true, nil
	case unix.EINTR:
		return 0, false, false, nil
	case unix.EAGAIN:
		return 0, true, true, nil
	}
	return 0, false, true, os.NewSyscallError(op, errno)
}
