//go:build !linux

package capset

import "errors"

// Apply is only implemented on Linux.
func Apply(keep Set) error { return errors.New("capset: not supported on this system") }

// KeepCaps is only implemented on Linux.
func KeepCaps() error { return errors.New("capset: not supported on this system") }

// RaiseAmbient is only implemented on Linux.
func RaiseAmbient(set Set) error { return errors.New("capset: not supported on this system") }

// SetInheritable is only implemented on Linux.
func SetInheritable(keep Set) error { return errors.New("capset: not supported on this system") }
