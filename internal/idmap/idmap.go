package idmap

import (
	"errors"
	"fmt"

	"github.com/berth-dev/berth/internal/uidrange"
)

var (
	// ErrInvalid is returned for mappings the kernel would refuse or that
	// do not fit the machine's range.
	ErrInvalid = errors.New("invalid ID mapping")
	// ErrUnsupported is returned by Supported when a path's file system
	// (or the kernel) cannot make idmapped mounts.
	ErrUnsupported = errors.New("idmapped mounts not supported")
)

// maxExtents is the number of lines a mapping may have. The kernel allows
// 340; berth keeps to 5, the limit before the larger map code paths that
// CVE-2018-18955 was in.
const maxExtents = 5

// Mapping maps Size IDs: ID Inner (on disk, or inside a namespace) is
// ID Outer on the host.
type Mapping struct {
	Inner uint32
	Outer uint32
	Size  uint32
}

func (m Mapping) String() string { return fmt.Sprintf("%d %d %d", m.Inner, m.Outer, m.Size) }

// BindKind says how a bind mount into a user-namespaced machine is mapped,
// nspawn's idmap/noidmap/rootidmap bind options plus a chosen pair.
type BindKind int

const (
	// BindPlain is noidmap: host IDs are seen through the machine's
	// namespace as they are (host 0 is nobody inside).
	BindPlain BindKind = iota
	// BindIdmap is idmap: host IDs 0–65535 appear as the machine's IDs
	// 0–65535 (the same mapping as the machine's root).
	BindIdmap
	// BindRootIdmap is rootidmap: the host owner of the bind source's
	// top directory appears as root inside; other IDs appear as nobody.
	BindRootIdmap
	// BindCustom maps Size host IDs from Host to the machine's IDs from
	// Container.
	BindCustom
)

// Bind describes the mapping of one bind mount.
type Bind struct {
	Kind BindKind
	// Owner is the host owner of the source's top directory (rootidmap).
	Owner uint32
	// Host, Container and Size give the pair of BindCustom.
	Host, Container, Size uint32
}

// RootMappings returns the mapping of an idmapped machine root (and of the
// machine's user namespace itself): on-disk IDs 0–65535 are the range.
func RootMappings(r uidrange.Range) []Mapping {
	return []Mapping{{Inner: 0, Outer: r.Base, Size: r.Size}}
}

// BindMappings returns the idmapped-mount mapping of bind b in a machine
// with range r, or nil for a plain bind.
func BindMappings(r uidrange.Range, b Bind) ([]Mapping, error) {
	switch b.Kind {
	case BindPlain:
		return nil, nil
	case BindIdmap:
		return RootMappings(r), nil
	case BindRootIdmap:
		return []Mapping{{Inner: b.Owner, Outer: r.Base, Size: 1}}, nil
	case BindCustom:
		if b.Size == 0 || uint64(b.Container)+uint64(b.Size) > uint64(r.Size) {
			return nil, fmt.Errorf("%w: container IDs %d+%d outside the machine's %d IDs", ErrInvalid, b.Container, b.Size, r.Size)
		}
		m := []Mapping{{Inner: b.Host, Outer: r.Base + b.Container, Size: b.Size}}
		return m, Validate(m)
	}
	return nil, fmt.Errorf("%w: bind kind %d", ErrInvalid, b.Kind)
}

// Validate checks a mapping the way the kernel's map_write does: 1 to 5
// extents, no empty or wrapping extent, and neither the inner nor the outer
// ranges overlapping each other.
func Validate(ms []Mapping) error {
	if len(ms) == 0 || len(ms) > maxExtents {
		return fmt.Errorf("%w: %d extents", ErrInvalid, len(ms))
	}
	for i, m := range ms {
		if m.Size == 0 || uint64(m.Inner)+uint64(m.Size) > 1<<32-1 || uint64(m.Outer)+uint64(m.Size) > 1<<32-1 {
			return fmt.Errorf("%w: extent %q", ErrInvalid, m)
		}
		for _, o := range ms[i+1:] {
			if overlap(m.Inner, o.Inner, m.Size, o.Size) || overlap(m.Outer, o.Outer, m.Size, o.Size) {
				return fmt.Errorf("%w: extents %q and %q overlap", ErrInvalid, m, o)
			}
		}
	}
	return nil
}

func overlap(a, b, an, bn uint32) bool {
	return uint64(a) < uint64(b)+uint64(bn) && uint64(b) < uint64(a)+uint64(an)
}
