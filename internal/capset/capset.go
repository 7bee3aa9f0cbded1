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
// (src/nspawn/nspawn.c, arg_caps_retain).
var Default = mustSet("CAP_AUDIT_CONTROL,CAP_AUDIT_WRITE,CAP_CHOWN,CAP_DAC_OVERRIDE," +
	"CAP_DAC_READ_SEARCH,CAP_FOWNER,CAP_FSETID,CAP_IPC_OWNER,CAP_KILL,CAP_LEASE," +
	"CAP_LINUX_IMMUTABLE,CAP_MKNOD,CAP_NET_BIND_SERVICE,CAP_NET_BROADCAST,CAP_NET_RAW," +
	"CAP_SETFCAP,CAP_SETGID,CAP_SETPCAP,CAP_SETUID,CAP_SYS_ADMIN,CAP_SYS_BOOT," +
	"CAP_SYS_CHROOT,CAP_SYS_NICE,CAP_SYS_PTRACE,CAP_SYS_RESOURCE,CAP_SYS_TTY_CONFIG")

// NetAdmin is CAP_NET_ADMIN, added by every private-network option.
const NetAdmin Set = 1 << 12

func mustSet(s string) Set {
	set, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return set
}

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

// String returns s as a comma-separated list of names.
func (s Set) String() string { return strings.Join(s.Names(), ",") }
