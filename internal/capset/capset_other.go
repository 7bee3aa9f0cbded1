//go:build !linux

package capset

import "errors"

// Apply is only implemented on Linux.
func Apply(keep Set) error { return errors.New("capset: not supported on this system") }
