//go:build linux

package kernel

import (
	"bytes"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Path is a file path as the kernel takes it, NUL-terminated, built in
// an array that stays on the caller's stack: the string-taking wrappers
// of package unix copy every path into a new heap buffer, and on a hot
// path (berthd's registrations: the state file, the leader's /proc
// files) that is much of its garbage. A path longer than the array goes
// to the heap. The zero Path is empty.
type Path struct {
	b    [256]byte
	n    int
	long []byte // the path when it does not fit in b, or nil
}

// Add appends s to the path.
func (p *Path) Add(s string) *Path {
	switch {
	case p.long != nil:
		p.long = append(p.long, s...)
	case p.n+len(s) < len(p.b):
		p.n += copy(p.b[p.n:], s)
	default:
		p.long = append(append(make([]byte, 0, p.n+len(s)+1), p.b[:p.n]...), s...)
	}
	return p
}

// AddUint appends the decimal digits of v to the path.
func (p *Path) AddUint(v uint64) *Path {
	if p.long != nil || len(p.b)-p.n <= 20 {
		return p.Add(strconv.FormatUint(v, 10))
	}
	p.n += len(strconv.AppendUint(p.b[p.n:p.n], v, 10))
	return p
}

// ptr returns the NUL-terminated path, valid while p is, or EINVAL if
// the path holds a NUL byte.
func (p *Path) ptr() (*byte, error) {
	s := p.b[:p.n]
	if p.long != nil {
		s = p.long
	}
	if bytes.IndexByte(s, 0) >= 0 {
		return nil, unix.EINVAL
	}
	if p.long != nil {
		return &append(p.long, 0)[0], nil
	}
	p.b[p.n] = 0
	return &p.b[0], nil
}

// String returns the path, for error messages.
func (p *Path) String() string {
	if p.long != nil {
		return string(p.long)
	}
	return string(p.b[:p.n])
}

// fdCWD is AT_FDCWD in a variable, for a uintptr system call argument.
var fdCWD = unix.AT_FDCWD

// errno returns e as an error, nil for 0.
func errno(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// OpenPath is unix.Open of p, retried on EINTR.
func OpenPath(p *Path, flags int, mode uint32) (int, error) {
	s, err := p.ptr()
	if err != nil {
		return -1, err
	}
	return RetryInt("open", func() (int, error) {
		fd, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(fdCWD), uintptr(unsafe.Pointer(s)), uintptr(flags), uintptr(mode), 0, 0)
		if e != 0 {
			return -1, e
		}
		return int(fd), nil
	})
}

// RenamePath is unix.Rename of from to to, retried on EINTR.
func RenamePath(from, to *Path) error {
	f, err := from.ptr()
	if err != nil {
		return err
	}
	t, err := to.ptr()
	if err != nil {
		return err
	}
	return Retry("rename", func() error {
		_, _, e := unix.Syscall6(unix.SYS_RENAMEAT2, uintptr(fdCWD), uintptr(unsafe.Pointer(f)), uintptr(fdCWD), uintptr(unsafe.Pointer(t)), 0, 0)
		return errno(e)
	})
}

// UnlinkPath is unix.Unlink of p, retried on EINTR.
func UnlinkPath(p *Path) error {
	s, err := p.ptr()
	if err != nil {
		return err
	}
	return Retry("unlink", func() error {
		_, _, e := unix.Syscall(unix.SYS_UNLINKAT, uintptr(fdCWD), uintptr(unsafe.Pointer(s)), 0)
		return errno(e)
	})
}

// InodeOf returns the inode number of the file at p (following links).
func InodeOf(p *Path) (uint64, error) {
	s, err := p.ptr()
	if err != nil {
		return 0, err
	}
	var st unix.Statx_t
	err = Retry("statx", func() error {
		_, _, e := unix.Syscall6(unix.SYS_STATX, uintptr(fdCWD), uintptr(unsafe.Pointer(s)), 0, unix.STATX_INO, uintptr(unsafe.Pointer(&st)), 0)
		return errno(e)
	})
	return st.Ino, err
}
