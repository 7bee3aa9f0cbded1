package capset

import (
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"strconv"
	"strings"
)

// Set is a set of capabilities: bit N set means capability N is in it.
type Set uint64

// ErrUnknown is returned for a capability name nobody knows.
var ErrUnknown = errors.New("unknown capability")

// Last is the highest capability number this package names
// (CAP_CHECKPOINT_RESTORE).
const Last = 40

// All is every capability up to Last.
const All Set = 1<<(Last+1) - 1

// names lists capability names by number, without the CAP_ prefix.
var names = [Last + 1]string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
	"NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
	"SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// Default is systemd-nspawn's default capability set for a container
// (src/nspawn/nspawn.c, arg_caps_retain): AUDIT_CONTROL, AUDIT_WRITE,
// CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID, IPC_OWNER, KILL,
// LEASE, LINUX_IMMUTABLE, MKNOD, NET_BIND_SERVICE, NET_BROADCAST, NET_RAW,
// SETFCAP, SETGID, SETPCAP, SETUID, SYS_ADMIN, SYS_BOOT, SYS_CHROOT,
// SYS_NICE, SYS_PTRACE, SYS_RESOURCE and SYS_TTY_CONFIG. A constant, so
// that no program pays for parsing it at start.
const Default Set = 1<<30 | 1<<29 | 1<<0 | 1<<1 | 1<<2 | 1<<3 | 1<<4 | 1<<15 | 1<<5 | 1<<28 |
	1<<9 | 1<<27 | 1<<10 | 1<<11 | 1<<13 | 1<<31 | 1<<6 | 1<<8 | 1<<7 | 1<<21 | 1<<22 |
	1<<18 | 1<<23 | 1<<19 | 1<<24 | 1<<26

// NetAdmin is CAP_NET_ADMIN, added by every private-network option.
const NetAdmin Set = 1 << 12

// FromName returns the number of a capability named like "CAP_NET_ADMIN"
// (any case) or given as a decimal number.
func FromName(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n <= Last {
		return n, nil
	}
	up := strings.ToUpper(name)
	if rest, ok := strings.CutPrefix(up, "CAP_"); ok {
		for i, n := range names {
			if n == rest {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknown, name)
}

// Parse reads a comma-separated list of capability names; "all" stands for
// All. An empty string is the empty set.
func Parse(s string) (Set, error) {
	var set Set
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case strings.EqualFold(f, "all"):
			set |= All
		default:
			n, err := FromName(f)
			if err != nil {
				return 0, err
			}
			set |= 1 << n
		}
	}
	return set, nil
}

// Has reports whether capability n is in s.
func (s Set) Has(n int) bool { return n >= 0 && n < 64 && s&(1<<n) != 0 }

// Names returns the CAP_ names of s, sorted.
func (s Set) Names() []string {
	out := make([]string, 0, bits.OnesCount64(uint64(s)))
	for i, n := range names {
		if s.Has(i) {
			out = append(out, "CAP_"+n)
		}
	}
	sort.Strings(out)
	return out
}

// Numbers returns the capability numbers in s, ascending.
func (s Set) Numbers() []uintptr {
	out := make([]uintptr, 0, bits.OnesCount64(uint64(s)))
	for n := 0; n < 64; n++ {
		if s.Has(n) {
			out = append(out, uintptr(n))
		}
	}
	return out
}

// String returns s as a comma-separated list of names.
func (s Set) String() string { return strings.Join(s.Names(), ",") }
