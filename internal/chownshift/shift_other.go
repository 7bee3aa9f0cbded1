//go:build !linux

package chownshift

import (
	"errors"
	"fmt"
)

var errUnsupported = errors.New("ownership shifting needs Linux")

// Detect is only implemented on Linux.
func Detect(root string) (State, error) {
	return State{}, fmt.Errorf("detect shift: %w", errUnsupported)
}

// Shift is only implemented on Linux.
func Shift(root string, to uint32, opts Options) (Result, error) {
	return Result{}, fmt.Errorf("shift %s: %w", root, errUnsupported)
}
