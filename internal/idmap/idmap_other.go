//go:build !linux

package idmap

import (
	"errors"
	"fmt"
)

var errNotLinux = errors.New("idmapped mounts need Linux")

// UserNS is an open user namespace (Linux only).
type UserNS struct{}

// Fd returns -1: there are no user namespaces here.
func (u *UserNS) Fd() int { return -1 }

// Close does nothing here.
func (u *UserNS) Close() error { return nil }

// NewUserNS is only implemented on Linux.
func NewUserNS(uids, gids []Mapping) (*UserNS, error) {
	return nil, fmt.Errorf("user namespace: %w", errNotLinux)
}

// Tree is a detached mount tree (Linux only).
type Tree struct{}

// Attach is only implemented on Linux.
func (t *Tree) Attach(target string) error { return fmt.Errorf("attach mount: %w", errNotLinux) }

// Close does nothing here.
func (t *Tree) Close() error { return nil }

// IdmappedClone is only implemented on Linux.
func IdmappedClone(src string, ns *UserNS, recursive bool) (*Tree, error) {
	return nil, fmt.Errorf("idmap clone: %w", errNotLinux)
}

// OpenUserNS is only implemented on Linux.
func OpenUserNS(pid int) (*UserNS, error) {
	return nil, fmt.Errorf("open user namespace: %w", errNotLinux)
}

// Mount is only implemented on Linux.
func Mount(src, target string, ns *UserNS, recursive bool) error {
	return fmt.Errorf("idmap mount: %w", errNotLinux)
}

// Supported reports that idmapped mounts are never supported here.
func Supported(path string, ns *UserNS) error {
	return fmt.Errorf("%s: %w (%w)", path, ErrUnsupported, errNotLinux)
}

// Carrier is a user namespace carrier (Linux only).
type Carrier struct{}

// StartCarrier returns a carrier whose Map fails here.
func StartCarrier() *Carrier { return &Carrier{} }

// Map is only implemented on Linux.
func (c *Carrier) Map(uids, gids []Mapping) (*UserNS, error) {
	return nil, fmt.Errorf("user namespace: %w", errNotLinux)
}

// Close does nothing here.
func (c *Carrier) Close() {}

// StartFunc starts a carrier process (Linux only).
type StartFunc func() (pid int, end func(), err error)

// NewCarrier returns a carrier whose Map fails here.
func NewCarrier(start StartFunc) *Carrier { return &Carrier{} }
