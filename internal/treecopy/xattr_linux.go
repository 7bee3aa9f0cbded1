//go:build linux

package treecopy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// Extended attributes copied: user.*, the POSIX ACLs and, with
// KeepSetID, file capabilities (a privilege, like the setuid bit).
// trusted.* (overlayfs and other kernel users) and the security labels
// of the other side's policy are not.
const (
	aclAccess  = "system.posix_acl_access"
	aclDefault = "system.posix_acl_default"
	capability = "security.capability"
)

// maxXattrSize bounds one attribute value (the kernel's XATTR_SIZE_MAX).
const maxXattrSize = 64 << 10

func copiedXattr(name string, o Options) bool {
	switch {
	case strings.HasPrefix(name, "user."), name == aclAccess, name == aclDefault:
		return true
	case name == capability:
		return o.KeepSetID
	}
	return false
}

// copyXattrs copies src's extended attributes to dst (both open files).
// File systems without extended attributes are no error.
func copyXattrs(dst, src *os.File, o Options) error {
	names, err := listXattrs(src)
	if err != nil {
		return err
	}
	for _, name := range names {
		if !copiedXattr(name, o) {
			continue
		}
		value, err := getXattr(src, name)
		if errors.Is(err, unix.ENODATA) {
			continue
		}
		if err != nil {
			return fmt.Errorf("copy %s: xattr %s: %w", src.Name(), name, err)
		}
		if o.Chown && (name == aclAccess || name == aclDefault) {
			value = shiftACL(value, uint32(o.UID), uint32(o.GID))
		}
		err = kernel.Retry("fsetxattr", func() error { return unix.Fsetxattr(int(dst.Fd()), name, value, 0) })
		if err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("copy to %s: xattr %s: %w", dst.Name(), name, err)
		}
	}
	return nil
}

func listXattrs(f *os.File) ([]string, error) {
	buf := make([]byte, 1024)
	for {
		n, err := kernel.RetryInt("flistxattr", func() (int, error) { return unix.Flistxattr(int(f.Fd()), buf) })
		switch {
		case errors.Is(err, unix.ERANGE) && len(buf) < maxXattrSize:
			buf = make([]byte, 2*len(buf))
			continue
		case errors.Is(err, unix.EOPNOTSUPP):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("copy %s: list xattrs: %w", f.Name(), err)
		}
		var names []string
		for _, b := range bytes.Split(buf[:n], []byte{0}) {
			if len(b) > 0 {
				names = append(names, string(b))
			}
		}
		return names, nil
	}
}

func getXattr(f *os.File, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := kernel.RetryInt("fgetxattr", func() (int, error) { return unix.Fgetxattr(int(f.Fd()), name, buf) })
		if errors.Is(err, unix.ERANGE) && len(buf) < maxXattrSize {
			buf = make([]byte, maxXattrSize)
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// POSIX ACL xattr format: a little-endian u32 version (2), then entries
// of u16 tag, u16 permissions, u32 id.
const (
	aclVersion   = 2
	aclUser      = 0x02
	aclGroup     = 0x08
	aclHeaderLen = 4
	aclEntryLen  = 8
)

// shiftACL returns an ACL whose named user and group entries are moved
// up by uid and gid, the shift of a user-namespaced machine (its root is
// the owner Chown gives every entry). Anything not an ACL is returned as
// it is, for the kernel to judge.
func shiftACL(v []byte, uid, gid uint32) []byte {
	if len(v) < aclHeaderLen || (len(v)-aclHeaderLen)%aclEntryLen != 0 || binary.LittleEndian.Uint32(v) != aclVersion {
		return v
	}
	out := bytes.Clone(v)
	for i := aclHeaderLen; i < len(out); i += aclEntryLen {
		id := out[i+4 : i+8]
		switch binary.LittleEndian.Uint16(out[i:]) {
		case aclUser:
			binary.LittleEndian.PutUint32(id, binary.LittleEndian.Uint32(id)+uid)
		case aclGroup:
			binary.LittleEndian.PutUint32(id, binary.LittleEndian.Uint32(id)+gid)
		}
	}
	return out
}
