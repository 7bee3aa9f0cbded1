package containercgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Mode is the kind of cgroup setup the host has.
type Mode int

// Modes of the host's cgroup setup.
const (
	// None: no cgroup2 hierarchy is mounted.
	None Mode = iota
	// Hybrid: cgroup v1 controllers with cgroup2 at <root>/unified.
	Hybrid
	// Unified: pure cgroup v2 at <root>.
	Unified
)

// String names m.
func (m Mode) String() string {
	return [...]string{"none", "hybrid", "unified"}[m]
}

// ErrExists is returned when the container's cgroup already exists, which
// means a machine of that name is running.
var ErrExists = errors.New("cgroup already exists")

// ErrNoCgroup2 is returned when the host has no cgroup2 hierarchy.
var ErrNoCgroup2 = errors.New("no cgroup2 hierarchy mounted")

// UnifiedPath parses a /proc/PID/cgroup file and returns the process's
// path in the cgroup2 hierarchy (the "0::" line).
func UnifiedPath(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			if !strings.HasPrefix(p, "/") {
				return "", fmt.Errorf("cgroup: bad unified path %q", p)
			}
			return p, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("cgroup: %w", err)
	}
	return "", ErrNoCgroup2
}

// ScopeName returns the scope systemd-machined creates for a machine:
// "machine-" plus the machine name escaped as a unit name, plus ".scope".
func ScopeName(machine string) string {
	return "machine-" + escapeUnit(machine) + ".scope"
}

// escapeUnit escapes s like systemd's unit_name_escape: bytes other than
// ASCII letters, digits, ':', '_' and '.' (and a leading '.') become \xNN.
func escapeUnit(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == ':' || c == '_' || c == '.' || c >= '0' && c <= '9' ||
			c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !ok || (i == 0 && c == '.') {
			fmt.Fprintf(&b, `\x%02x`, c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
