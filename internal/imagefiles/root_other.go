//go:build !linux

package imagefiles

import "errors"

var errUnsupported = errors.New("image files: only supported on Linux")

// Open is only supported on Linux.
func Open(path string) (*Root, error) { return nil, errUnsupported }

// Close closes the root.
func (r *Root) Close() error { return errUnsupported }

// ReadFile is only supported on Linux.
func (r *Root) ReadFile(name string, limit int64) ([]byte, error) { return nil, errUnsupported }
