package images

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// xattrIO reads and writes the extended attributes of one file.
type xattrIO interface {
	list(buf []byte) (int, error)
	get(name string, buf []byte) (int, error)
	set(name string, val []byte) error
}

// fdXattrs is a file's xattrs through an open descriptor.
type fdXattrs struct{ fd int }

func (x fdXattrs) list(b []byte) (int, error)          { return unix.Flistxattr(x.fd, b) }
func (x fdXattrs) get(n string, b []byte) (int, error) { return unix.Fgetxattr(x.fd, n, b) }
func (x fdXattrs) set(n string, v []byte) error        { return unix.Fsetxattr(x.fd, n, v, 0) }

// pathXattrs is a file's xattrs through a path, never following its last
// component.
type pathXattrs struct{ path string }

func (x pathXattrs) list(b []byte) (int, error)          { return unix.Llistxattr(x.path, b) }
func (x pathXattrs) get(n string, b []byte) (int, error) { return unix.Lgetxattr(x.path, n, b) }
func (x pathXattrs) set(n string, v []byte) error        { return unix.Lsetxattr(x.path, n, v, 0) }

// copyXattrs copies every extended attribute of src to dst: user.*,
// trusted.*, security.* (file capabilities, SELinux labels) and
// system.posix_acl_* (ACLs).
func copyXattrs(src, dst xattrIO, buf []byte) error {
	n, err := retryXattr(func() (int, error) { return src.list(buf) })
	if errors.Is(err, unix.ENOTSUP) || n == 0 {
		return nil
	}
	if errors.Is(err, unix.ERANGE) {
		return fmt.Errorf("xattr list larger than %d bytes: %w", len(buf), err)
	}
	if err != nil {
		return fmt.Errorf("listxattr: %w", err)
	}
	namesBuf := append([]byte(nil), buf[:n]...)
	for _, nb := range bytes.Split(bytes.TrimSuffix(namesBuf, []byte{0}), []byte{0}) {
		name := string(nb)
		vn, err := retryXattr(func() (int, error) { return src.get(name, buf) })
		if errors.Is(err, unix.ENODATA) {
			continue
		}
		if err != nil {
			return fmt.Errorf("getxattr %s: %w", name, err)
		}
		if err := dst.set(name, buf[:vn]); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("setxattr %s: %w", name, err)
		}
	}
	return nil
}

// retryXattr retries EINTR.
func retryXattr(fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}
