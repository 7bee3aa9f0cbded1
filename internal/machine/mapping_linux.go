//go:build linux

package machine

import "fmt"

// validID reports whether id is a valid UID or GID (uid_is_valid: neither
// the 32-bit nor the 16-bit -1).
func validID(id uint32) bool { return id != 0xFFFFFFFF && id != 0xFFFF }

// mappingErr is the "no mapping" sentinel for users or groups.
func mappingErr(group bool) error {
	if group {
		return ErrNoGroupMapping
	}
	return ErrNoUserMapping
}

func mapFile(group bool) string {
	if group {
		return "gid_map"
	}
	return "uid_map"
}

// MapFromMachine maps a UID (group false) or GID (group true) of the
// machine to the host.
func (r *Registry) MapFromMachine(name string, id uint32, group bool) (uint32, error) {
	if !validID(id) {
		return 0, fmt.Errorf("map from machine: invalid ID %d: %w", id, ErrInvalid)
	}
	e, err := r.inspectable(name)
	if err != nil {
		return 0, fmt.Errorf("map from machine: %w", err)
	}
	m, err := e.idMap(mapFile(group))
	if err != nil {
		return 0, fmt.Errorf("map from machine: %w", err)
	}
	if m == nil {
		return id, nil
	}
	if out, ok := ToOuter(m, id); ok {
		return out, nil
	}
	return 0, fmt.Errorf("machine %q has no mapping for %d: %w", name, id, mappingErr(group))
}

// MapToMachine finds the container a host UID or GID is mapped into and
// returns the machine and the ID inside. IDs below 0x10000 are the host's.
func (r *Registry) MapToMachine(id uint32, group bool) (Machine, uint32, error) {
	if !validID(id) {
		return Machine{}, 0, fmt.Errorf("map to machine: invalid ID %d: %w", id, ErrInvalid)
	}
	if id < 0x10000 {
		return Machine{}, 0, fmt.Errorf("ID %d belongs to the host range: %w", id, mappingErr(group))
	}
	for _, m := range r.List() {
		if m.Class != ClassContainer {
			continue
		}
		e, err := r.lookup(m.Name)
		if err != nil {
			continue
		}
		if ranges, err := e.idMap(mapFile(group)); err == nil && !identityMap(ranges) {
			if in, ok := ToInner(ranges, id); ok {
				return m, in, nil
			}
		}
	}
	return Machine{}, 0, fmt.Errorf("no matching mapping for %d: %w", id, mappingErr(group))
}

// identityMap reports whether m is the initial user namespace's map (or
// none): such a container maps no host ID of its own.
func identityMap(m []IDRange) bool {
	return m == nil || (len(m) == 1 && m[0] == IDRange{Inner: 0, Outer: 0, Count: 0xFFFFFFFF})
}
