//go:build !linux

package nspawnsettings

import "errors"

// load is only implemented on Linux.
func load(dir, name string, trusted bool) (*File, error) {
	return nil, errors.New("settings lookup: only supported on Linux")
}
