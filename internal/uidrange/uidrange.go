package uidrange

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
)

const (
	// Size is the number of IDs in an allocated range.
	Size = 0x10000
	// MinBase is the lowest base the allocator picks (524288).
	MinBase uint32 = 0x00080000
	// MaxBase is the highest base the allocator picks (1878982656).
	MaxBase uint32 = 0x6FFF0000
)

var (
	// ErrExhausted is returned when no free range is left in the window.
	ErrExhausted = errors.New("no free UID range")
	// ErrBusy is returned when an explicitly requested range is in use.
	ErrBusy = errors.New("UID range in use")
	// ErrInvalid is returned for malformed ranges and records.
	ErrInvalid = errors.New("invalid UID range")
	// ErrNotFound is returned when a machine has no recorded range.
	ErrNotFound = errors.New("no UID range recorded")
)

// Range is a contiguous span of host IDs: UID and GID Base map to ID 0 of
// the machine, Base+Size-1 to Size-1.
type Range struct {
	Base uint32
	Size uint32
}

// String formats r as "base:size", the form of --private-users=N:M.
func (r Range) String() string { return fmt.Sprintf("%d:%d", r.Base, r.Size) }

// end returns one past the last ID of r, as a 64-bit value so that a range
// ending at 2^32 does not wrap.
func (r Range) end() uint64 { return uint64(r.Base) + uint64(r.Size) }

// Validate reports whether r is a usable explicit range: non-empty, not
// wrapping past 2^32-1 (the invalid ID), and not mapping host root unless it
// is the identity range starting at 0.
func (r Range) Validate() error {
	if r.Size == 0 {
		return fmt.Errorf("%w: %s: empty", ErrInvalid, r)
	}
	if r.end() > 0xFFFFFFFF {
		return fmt.Errorf("%w: %s: ends past 4294967294", ErrInvalid, r)
	}
	return nil
}

// Contains reports whether host ID id lies in r.
func (r Range) Contains(id uint32) bool { return id >= r.Base && uint64(id) < r.end() }

// Overlaps reports whether r and o share an ID.
func (r Range) Overlaps(o Range) bool {
	return uint64(r.Base) < o.end() && uint64(o.Base) < r.end()
}

// ToMachine maps host ID id to the machine's ID, and reports whether id is
// mapped at all (MapFromMachineUser's inverse).
func (r Range) ToMachine(id uint32) (uint32, bool) {
	if !r.Contains(id) {
		return 0, false
	}
	return id - r.Base, true
}

// FromMachine maps the machine's ID id to the host ID, and reports whether
// the machine has that ID at all.
func (r Range) FromMachine(id uint32) (uint32, bool) {
	if id >= r.Size {
		return 0, false
	}
	return r.Base + id, true
}

// window is the set of bases an allocator picks from.
type window struct{ min, max uint32 }

// count is the number of bases in w.
func (w window) count() uint32 { return (w.max-w.min)/Size + 1 }

// holds reports whether base is an aligned base of w.
func (w window) holds(base uint32) bool {
	return base >= w.min && base <= w.max && base%Size == 0
}

// first returns the stable first candidate for machine: a hash of the name
// reduced onto the bases of w.
func (w window) first(machine string) uint32 {
	sum := sum256([]byte("berth uid range\x00" + machine))
	n := binary.LittleEndian.Uint64(sum[:8]) % uint64(w.count())
	return w.min + uint32(n)*Size
}

// candidates yields every base of w once, starting at the stable first
// candidate of machine and continuing upwards, wrapping at the top. It
// makes them as they are asked for: the window holds 28,664 bases, and a
// machine's start mostly takes the first one tried.
func (w window) candidates(machine string) iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		n := w.count()
		start := (w.first(machine) - w.min) / Size
		for i := range n {
			if !yield(w.min + ((start+i)%n)*Size) {
				return
			}
		}
	}
}

// order yields the recorded base (if any) first, then the candidates not
// recorded for other machines, then those recorded for others (taken only
// when nothing else is free). others is called once, when a candidate
// after the recorded base is asked for.
func order(cands iter.Seq[uint32], recorded uint32, hasRecord bool, others func() map[uint32]bool) iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		if hasRecord && !yield(recorded) {
			return
		}
		taken := others()
		for _, later := range []bool{false, true} {
			for c := range cands {
				if (hasRecord && c == recorded) || taken[c] != later {
					continue
				}
				if !yield(c) {
					return
				}
			}
		}
	}
}

// collides reports whether any ID of ids lies in the range at base.
// ids must be sorted.
func collides(ids []uint32, base uint32) bool {
	i, _ := slices.BinarySearch(ids, base)
	return i < len(ids) && uint64(ids[i]) < uint64(base)+Size
}

// ParseAccounts reads the numeric IDs (the third colon-separated field) of a
// passwd(5) or group(5) file. Comments, NIS "+"/"-" lines and malformed
// lines are skipped. The result is sorted and deduplicated.
func ParseAccounts(r io.Reader) ([]uint32, error) {
	var ids []uint32
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for s.Scan() {
		if id, ok := accountID(s.Text()); ok {
			ids = append(ids, id)
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("parse accounts: %w", err)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// accountID returns the ID field of one passwd or group line.
func accountID(line string) (uint32, bool) {
	if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
		return 0, false
	}
	f := strings.SplitN(line, ":", 4)
	if len(f) < 4 {
		return 0, false
	}
	id, err := strconv.ParseUint(f[2], 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(id), true
}

// FormatRecord returns the on-disk form of a machine's range record.
func FormatRecord(r Range) []byte {
	return fmt.Appendf(nil, "BASE=%d\nSIZE=%d\n", r.Base, r.Size)
}

// ParseRecord parses a range record written by FormatRecord. Unknown keys
// are an error, so a corrupt file is never half-trusted.
func ParseRecord(b []byte) (Range, error) {
	var r Range
	var seen [2]bool
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte("="))
		n, err := strconv.ParseUint(string(v), 10, 32)
		if !ok || err != nil {
			return Range{}, fmt.Errorf("%w: record line %q", ErrInvalid, line)
		}
		switch string(k) {
		case "BASE":
			r.Base, seen[0] = uint32(n), true
		case "SIZE":
			r.Size, seen[1] = uint32(n), true
		default:
			return Range{}, fmt.Errorf("%w: record key %q", ErrInvalid, k)
		}
	}
	if !seen[0] || !seen[1] {
		return Range{}, fmt.Errorf("%w: record lacks BASE or SIZE", ErrInvalid)
	}
	return r, r.Validate()
}
