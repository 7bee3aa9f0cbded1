//go:build !linux

package osrelease

import (
	"errors"
	"os"
)

var errUnsupported = errors.New("read os-release: only supported on Linux")

// Read is only implemented on Linux.
func Read(root string) (map[string]string, error) { return nil, errUnsupported }

// ReadAt is only implemented on Linux.
func ReadAt(root *os.File) (map[string]string, error) { return nil, errUnsupported }
