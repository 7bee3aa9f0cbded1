//go:build !linux

package kernel

import "errors"

// errNoSysctl is returned where there are no Linux kernel settings.
var errNoSysctl = errors.New("kernel settings: only supported on Linux")

// WriteSysctl sets a Linux kernel setting: not supported here.
func WriteSysctl(name, value string) error { return errNoSysctl }

// ReadSysctl reads a Linux kernel setting: not supported here.
func ReadSysctl(name string) (string, error) { return "", errNoSysctl }
