package chownshift

import (
	"bytes"
	"errors"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// node names one inode: the entry name in directory dirfd, or the
// directory dirfd itself when name is empty.
type node struct {
	dirfd int
	name  string
}

// xattrArgs is struct xattr_args of getxattrat(2) and setxattrat(2).
type xattrArgs struct {
	value uint64
	size  uint32
	flags uint32
}

// xattrs reads and writes extended attributes of nodes without following
// symbolic links: with the *xattrat system calls (Linux 6.13), or on older
// kernels through /proc/self/fd/DIRFD/NAME with the l*xattr calls (the
// directory is pinned by its fd; only the last component is looked up, and
// not followed).
type xattrs struct {
	legacy bool
}

func (x *xattrs) procPath(n node) string {
	return "/proc/self/fd/" + strconv.Itoa(n.dirfd) + "/" + n.name
}

// list returns the names of n's extended attributes; buf is scratch space.
func (x *xattrs) list(n node, buf []byte) ([]string, error) {
	var sz int
	var err error
	switch {
	case n.name == "":
		sz, err = kernel.RetryInt("flistxattr", func() (int, error) { return unix.Flistxattr(n.dirfd, buf) })
	case !x.legacy:
		sz, err = listxattrat(n, buf)
		if errors.Is(err, unix.ENOSYS) {
			x.legacy = true
			return x.list(n, buf)
		}
	default:
		sz, err = kernel.RetryInt("llistxattr", func() (int, error) { return unix.Llistxattr(x.procPath(n), buf) })
	}
	if errors.Is(err, unix.ERANGE) {
		return x.list(n, make([]byte, 2*len(buf)))
	}
	if err != nil || sz == 0 {
		return nil, err
	}
	var out []string
	for _, a := range bytes.Split(buf[:sz-1], []byte{0}) {
		out = append(out, string(a))
	}
	return out, nil
}

// get returns the value of attribute attr of n.
func (x *xattrs) get(n node, attr string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		var sz int
		var err error
		switch {
		case n.name == "":
			sz, err = kernel.RetryInt("fgetxattr", func() (int, error) { return unix.Fgetxattr(n.dirfd, attr, buf) })
		case !x.legacy:
			sz, err = getxattrat(n, attr, buf)
		default:
			sz, err = kernel.RetryInt("lgetxattr", func() (int, error) { return unix.Lgetxattr(x.procPath(n), attr, buf) })
		}
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, 4*len(buf))
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:sz], nil
	}
}

// set writes attribute attr of n.
func (x *xattrs) set(n node, attr string, v []byte) error {
	switch {
	case n.name == "":
		return kernel.Retry("fsetxattr", func() error { return unix.Fsetxattr(n.dirfd, attr, v, 0) })
	case !x.legacy:
		return setxattrat(n, attr, v)
	default:
		return kernel.Retry("lsetxattr", func() error { return unix.Lsetxattr(x.procPath(n), attr, v, 0) })
	}
}

func listxattrat(n node, buf []byte) (int, error) {
	p, err := unix.BytePtrFromString(n.name)
	if err != nil {
		return 0, err
	}
	return kernel.RetryInt("listxattrat", func() (int, error) {
		r, _, e := unix.Syscall6(unix.SYS_LISTXATTRAT, uintptr(n.dirfd), uintptr(unsafe.Pointer(p)),
			unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(unsafe.SliceData(buf))), uintptr(len(buf)), 0)
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	})
}

func getxattrat(n node, attr string, buf []byte) (int, error) {
	p, err := unix.BytePtrFromString(n.name)
	if err != nil {
		return 0, err
	}
	a, err := unix.BytePtrFromString(attr)
	if err != nil {
		return 0, err
	}
	args := xattrArgs{value: uint64(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))), size: uint32(len(buf))}
	defer runtime.KeepAlive(buf)
	return kernel.RetryInt("getxattrat", func() (int, error) {
		r, _, e := unix.Syscall6(unix.SYS_GETXATTRAT, uintptr(n.dirfd), uintptr(unsafe.Pointer(p)),
			unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	})
}

func setxattrat(n node, attr string, v []byte) error {
	p, err := unix.BytePtrFromString(n.name)
	if err != nil {
		return err
	}
	a, err := unix.BytePtrFromString(attr)
	if err != nil {
		return err
	}
	args := xattrArgs{value: uint64(uintptr(unsafe.Pointer(unsafe.SliceData(v)))), size: uint32(len(v))}
	defer runtime.KeepAlive(v)
	return kernel.Retry("setxattrat", func() error {
		_, _, e := unix.Syscall6(unix.SYS_SETXATTRAT, uintptr(n.dirfd), uintptr(unsafe.Pointer(p)),
			unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
		if e != 0 {
			return e
		}
		return nil
	})
}
