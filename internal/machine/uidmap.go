package machine

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// maxMapSize bounds a uid_map or gid_map read; the kernel allows 340 lines.
const maxMapSize = 32 << 10

// IDRange is one line of /proc/PID/uid_map or gid_map.
type IDRange struct {
	Inner, Outer, Count uint32
}

// ParseIDMap parses the content of a uid_map or gid_map file.
func ParseIDMap(data []byte) ([]IDRange, error) {
	if len(data) > maxMapSize {
		return nil, fmt.Errorf("id map of %d bytes: %w", len(data), ErrInvalid)
	}
	var out []IDRange
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("id map line %q: %w", truncate(sc.Text()), ErrInvalid)
		}
		var r IDRange
		var err error
		for i, dst := range []*uint32{&r.Inner, &r.Outer, &r.Count} {
			var n uint64
			if n, err = strconv.ParseUint(f[i], 10, 32); err != nil {
				return nil, fmt.Errorf("id map line %q: %w", truncate(sc.Text()), ErrInvalid)
			}
			*dst = uint32(n)
		}
		out = append(out, r)
	}
	return out, nil
}

// nobody is the overflow UID machined insists a simple mapping covers.
const nobody = 65534

// Shift returns the UID shift of a simple mapping, as machined's
// machine_get_uid_shift: exactly one range, starting at 0, covering
// nobody. Anything else is ErrNotSupported.
func Shift(m []IDRange) (uint32, error) {
	if len(m) != 1 || m[0].Inner != 0 || m[0].Count < nobody {
		return 0, fmt.Errorf("complex UID/GID mapping: %w", ErrNotSupported)
	}
	return m[0].Outer, nil
}

// ToOuter maps an inner ID to the host, reporting whether a range holds it.
func ToOuter(m []IDRange, id uint32) (uint32, bool) {
	for _, r := range m {
		if id >= r.Inner && uint64(id) < uint64(r.Inner)+uint64(r.Count) {
			return r.Outer + (id - r.Inner), true
		}
	}
	return 0, false
}

// ToInner maps a host ID into the namespace, reporting whether a range holds it.
func ToInner(m []IDRange, id uint32) (uint32, bool) {
	for _, r := range m {
		if id >= r.Outer && uint64(id) < uint64(r.Outer)+uint64(r.Count) {
			return r.Inner + (id - r.Outer), true
		}
	}
	return 0, false
}
