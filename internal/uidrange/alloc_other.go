//go:build !linux

package uidrange

import (
	"errors"
	"fmt"
)

var errUnsupported = errors.New("uid ranges need Linux")

// Acquire is only implemented on Linux.
func (a *Allocator) Acquire(machine string) (*Lease, error) {
	return nil, fmt.Errorf("acquire uid range: %w", errUnsupported)
}

// Reserve is only implemented on Linux.
func (a *Allocator) Reserve(machine string, r Range) (*Lease, error) {
	return nil, fmt.Errorf("reserve uid range: %w", errUnsupported)
}

// Release is only implemented on Linux.
func (l *Lease) Release() error { return fmt.Errorf("release uid range: %w", errUnsupported) }

// InUse is only implemented on Linux.
func (a *Allocator) InUse(machine string) (Range, bool, error) {
	return Range{}, false, fmt.Errorf("uid range in use: %w", errUnsupported)
}
