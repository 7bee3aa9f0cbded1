package nspawnsettings

import (
	"math/bits"
	"strings"

	"github.com/berth-dev/berth/internal/capset"
	"github.com/berth-dev/berth/internal/signame"
)

// Capabilities is a set of capabilities, bit n for capability number n.
type Capabilities uint64

// AllCapabilities is the set "all" stands for.
const AllCapabilities Capabilities = 1<<64 - 1

// String lists the set as CAP_ names, or "all".
func (c Capabilities) String() string {
	if c == AllCapabilities {
		return "all"
	}
	var names []string
	for v := uint64(c); v != 0; v &= v - 1 {
		n := bits.TrailingZeros64(v)
		names = append(names, capset.Set(1<<n).String())
	}
	return strings.Join(names, " ")
}

// parseCapability parses one name ("CAP_SYS_ADMIN", "sys_admin") or number.
func parseCapability(w string) (Capabilities, error) {
	n, err := capset.FromName(w)
	if err != nil {
		n, err = capset.FromName("CAP_" + w)
	}
	if err != nil {
		return 0, invalid("unknown capability %q", w)
	}
	return 1 << n, nil
}

// parseCapabilities adds a whitespace-separated list (or "all") to old; an
// empty value resets the set.
func parseCapabilities(old Capabilities, v string) (Capabilities, error) {
	words, err := splitWords(v)
	if err != nil {
		return 0, err
	}
	if len(words) == 0 {
		return 0, nil
	}
	for _, w := range words {
		if strings.EqualFold(w, "all") {
			old = AllCapabilities
			continue
		}
		c, err := parseCapability(w)
		if err != nil {
			return 0, err
		}
		old |= c
	}
	return old, nil
}

// Signal is a signal number; 0 means none.
type Signal int

// String returns "SIGTERM", "SIGRTMIN+3", or "" for none.
func (s Signal) String() string {
	if s <= 0 {
		return ""
	}
	return signame.Name(int(s))
}

// parseSignal parses "SIGTERM", "TERM", "RTMIN+3", "SIGRTMAX-1" or a
// number, as signal_from_string does. Empty unsets.
func parseSignal(v string) (Signal, error) {
	if v == "" {
		return 0, nil
	}
	n, err := signame.Parse(v)
	if err != nil {
		return 0, invalid("unknown signal %q", v)
	}
	return Signal(n), nil
}
