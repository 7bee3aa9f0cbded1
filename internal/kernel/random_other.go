//go:build !linux

package kernel

import "errors"

// Random is only implemented on Linux.
func Random(b []byte) error { return errors.New("getrandom: only supported on Linux") }
