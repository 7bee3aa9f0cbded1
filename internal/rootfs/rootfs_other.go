//go:build !linux

package rootfs

import (
	"errors"
	"os"
)

// errUnsupported is returned on systems without Linux mount namespaces.
var errUnsupported = errors.New("rootfs: only supported on Linux")

// Root is a container root; only the Linux build has one.
type Root struct{}

// Prepare is only implemented on Linux.
func Prepare(s *Spec) (*Root, error) { return nil, errUnsupported }

// Enter is only implemented on Linux.
func (r *Root) Enter() error { return errUnsupported }

// Detach is only implemented on Linux.
func (r *Root) Detach() error { return errUnsupported }

// Fd is only implemented on Linux.
func (r *Root) Fd() uintptr { return ^uintptr(0) }

// OpenFile is only implemented on Linux.
func (r *Root) OpenFile(p string) (*os.File, error) { return nil, errUnsupported }

// IsExecutable is only implemented on Linux.
func (r *Root) IsExecutable(p string) bool { return false }

// MachineID is only implemented on Linux.
func MachineID(dir, pivot string) string { return "" }
