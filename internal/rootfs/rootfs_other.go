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

// Finish is only implemented on Linux.
func Finish(s *Spec) (*Root, error) { return nil, errUnsupported }

// Enter is only implemented on Linux.
func (r *Root) Enter() error { return errUnsupported }

// Detach is only implemented on Linux.
func (r *Root) Detach() error { return errUnsupported }

// Pivot is only implemented on Linux.
func (r *Root) Pivot() error { return errUnsupported }

// OpenConsole is only implemented on Linux.
func OpenConsole() (master, peer *os.File, err error) { return nil, nil, errUnsupported }

// SealRunHost is only implemented on Linux.
func SealRunHost() error { return errUnsupported }

// MachineID is only implemented on Linux.
func MachineID(dir, pivot string) string { return "" }
