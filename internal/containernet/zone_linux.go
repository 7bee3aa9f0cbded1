package containernet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/rtnl"
)

// zoneLock takes the exclusive lock that serialises creating, joining and
// removing zone bridges; the returned func releases it.
func zoneLock(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("zone lock: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("zone lock: %w", err)
	}
	if err := kernel.Retry("flock", func() error { return unix.Flock(int(f.Fd()), unix.LOCK_EX) }); err != nil {
		f.Close()
		return nil, fmt.Errorf("zone lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// zoneBridge returns the bridge of a zone, creating it (and setting it up)
// if it is missing; created says whether it did. The zone lock is held.
func zoneBridge(h *rtnl.Conn, name string) (rtnl.Link, bool, error) {
	if l, err := h.LinkByName(name); err == nil {
		if l.Kind != "bridge" {
			return rtnl.Link{}, false, fmt.Errorf("zone %s: link exists and is not a bridge", name)
		}
		return l, false, nil
	}
	if err := h.AddBridge(name); err != nil {
		return rtnl.Link{}, false, fmt.Errorf("create zone bridge %s: %w", name, err)
	}
	l, err := h.LinkByName(name)
	if err != nil {
		return rtnl.Link{}, true, fmt.Errorf("create zone bridge %s: %w", name, err)
	}
	if err := h.SetUp(l.Index); err != nil {
		_ = h.DelLink(l.Index)
		return rtnl.Link{}, true, fmt.Errorf("set zone bridge %s up: %w", name, err)
	}
	return l, true, nil
}

// removeZoneIfEmpty deletes the zone bridge when it has no member left.
// The zone lock is held.
func removeZoneIfEmpty(h *rtnl.Conn, name string) error {
	br, err := h.LinkByName(name)
	if errors.Is(err, rtnl.ErrLinkNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove zone %s: %w", name, err)
	}
	links, err := h.Links()
	if err != nil {
		return fmt.Errorf("remove zone %s: %w", name, err)
	}
	for _, l := range links {
		if l.Master == br.Index {
			return nil
		}
	}
	if err := h.DelLink(br.Index); err != nil {
		return fmt.Errorf("remove zone %s: %w", name, err)
	}
	return nil
}
