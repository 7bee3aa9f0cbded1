//go:build !linux

package pid1

import (
	"errors"
	"syscall"
)

// Run is only implemented on Linux.
func Run(argv, env []string, attr *syscall.SysProcAttr, files []uintptr, started func()) (int, error) {
	return 0, errors.New("pid1: only supported on Linux")
}
