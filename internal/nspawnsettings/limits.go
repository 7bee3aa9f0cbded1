package nspawnsettings

import (
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Resource limit numbers (Linux RLIMIT_*), the index into Settings.Limits.
const (
	RlimitCPU = iota
	RlimitFSIZE
	RlimitDATA
	RlimitSTACK
	RlimitCORE
	RlimitRSS
	RlimitNPROC
	RlimitNOFILE
	RlimitMEMLOCK
	RlimitAS
	RlimitLOCKS
	RlimitSIGPENDING
	RlimitMSGQUEUE
	RlimitNICE
	RlimitRTPRIO
	RlimitRTTIME
	// RlimitCount is the number of resource limits.
	RlimitCount
)

// rlimitNames are the key suffixes by resource number (LimitCPU=, ...).
var rlimitNames = [RlimitCount]string{
	"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE",
	"MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME",
}

// Infinity is the unlimited resource limit value (RLIM_INFINITY).
const Infinity = math.MaxUint64

// Rlimit is a soft and a hard resource limit in the kernel's units.
type Rlimit struct {
	// Soft is the soft limit.
	Soft uint64
	// Hard is the hard limit.
	Hard uint64
}

// String formats r as "SOFT:HARD" ("infinity" for unlimited).
func (r Rlimit) String() string {
	f := func(v uint64) string {
		if v == Infinity {
			return "infinity"
		}
		return strconv.FormatUint(v, 10)
	}
	if r.Soft == r.Hard {
		return f(r.Soft)
	}
	return f(r.Soft) + ":" + f(r.Hard)
}

// parseRlimit parses VALUE or SOFT:HARD for resource res.
func parseRlimit(res int, v string) (Rlimit, error) {
	ss, hs, both := strings.Cut(v, ":")
	soft, err := parseRlimitValue(res, ss)
	if err != nil {
		return Rlimit{}, err
	}
	hard := soft
	if both {
		if hard, err = parseRlimitValue(res, hs); err != nil {
			return Rlimit{}, err
		}
	}
	if soft > hard {
		return Rlimit{}, invalid("soft limit above hard limit in %q", v)
	}
	return Rlimit{Soft: soft, Hard: hard}, nil
}

// parseRlimitValue parses one limit in the unit of res: seconds for CPU,
// microseconds for RTTIME, bytes (with K, M, G, T, P, E suffixes) for sizes,
// a nice level for NICE, a plain count otherwise.
func parseRlimitValue(res int, v string) (uint64, error) {
	if v == "infinity" {
		return Infinity, nil
	}
	switch res {
	case RlimitCPU:
		us, err := parseTimespan(v, 1_000_000)
		return (us + 999_999) / 1_000_000, err
	case RlimitRTTIME:
		return parseTimespan(v, 1)
	case RlimitFSIZE, RlimitDATA, RlimitSTACK, RlimitCORE, RlimitRSS, RlimitMEMLOCK, RlimitAS, RlimitMSGQUEUE:
		return parseSize(v)
	case RlimitNICE:
		return parseNice(v)
	}
	return parseUint(v, 64)
}

// parseSize parses bytes with an optional binary suffix.
func parseSize(v string) (uint64, error) {
	suffixes := "KMGTPE"
	shift := 0
	if n := len(v); n > 0 {
		if i := strings.IndexByte(suffixes, v[n-1]); i >= 0 {
			shift, v = 10*(i+1), v[:n-1]
		}
	}
	n, err := parseUint(v, 64)
	if err != nil {
		return 0, err
	}
	if shift > 0 && n > math.MaxUint64>>shift {
		return 0, invalid("size %q overflows", v)
	}
	return n << shift, nil
}

// parseNice parses a nice level -20..19 (given with a sign) into the
// rlimit value 20-level, or a raw value 0..40 without a sign.
func parseNice(v string) (uint64, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, invalid("invalid nice limit %q", v)
	}
	if v[0] == '+' || v[0] == '-' {
		if n < -20 || n > 19 {
			return 0, invalid("nice level %q not in -20..19", v)
		}
		return uint64(20 - n), nil
	}
	if n > 40 {
		return 0, invalid("nice limit %q above 40", v)
	}
	return uint64(n), nil
}

// timeUnit is the length of a time span unit in microseconds; 0 for no
// unit.
func timeUnit(u string) uint64 {
	switch u {
	case "us", "usec":
		return 1
	case "ms", "msec":
		return 1000
	case "s", "sec":
		return 1_000_000
	case "min", "m":
		return 60_000_000
	case "h", "hr":
		return 3_600_000_000
	case "d":
		return 86_400_000_000
	case "w":
		return 604_800_000_000
	}
	return 0
}

// parseTimespan parses "5", "5s", "1min 30s"; bare numbers are in units of
// def microseconds. The result is in microseconds.
func parseTimespan(v string, def uint64) (uint64, error) {
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return 0, invalid("empty time span")
	}
	var total uint64
	for _, f := range fields {
		i := strings.IndexFunc(f, func(r rune) bool { return r < '0' || r > '9' })
		num, unit := f, ""
		if i >= 0 {
			num, unit = f[:i], f[i:]
		}
		mul := def
		if unit != "" {
			if mul = timeUnit(unit); mul == 0 {
				return 0, invalid("unknown time unit in %q", v)
			}
		}
		n, err := parseUint(num, 64)
		if err != nil {
			return 0, err
		}
		hi, lo := bits.Mul64(n, mul)
		sum, carry := bits.Add64(total, lo, 0)
		if hi != 0 || carry != 0 {
			return 0, invalid("time span %q overflows", v)
		}
		total = sum
	}
	return total, nil
}

// MaxCPU is the highest CPU number CPUAffinity= accepts.
const MaxCPU = 8191

// CPUSet is a set of CPU numbers, sorted and without duplicates.
type CPUSet []int

// String formats the set as ranges: "0-3 8".
func (c CPUSet) String() string {
	var parts []string
	for i := 0; i < len(c); {
		j := i
		for j+1 < len(c) && c[j+1] == c[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(c[i]))
		} else {
			parts = append(parts, strconv.Itoa(c[i])+"-"+strconv.Itoa(c[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, " ")
}

// parseCPUSet adds "0-3,8 10" to old; a value with no CPU in it ("" or
// ",") resets the set.
func parseCPUSet(old CPUSet, v string) (CPUSet, error) {
	items := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(items) == 0 {
		return nil, errReset
	}
	seen := make(map[int]bool, len(old))
	for _, c := range old {
		seen[c] = true
	}
	for _, it := range items {
		lo, hi, err := parseCPURange(it)
		if err != nil {
			return nil, err
		}
		for c := lo; c <= hi; c++ {
			seen[c] = true
		}
	}
	out := make(CPUSet, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Ints(out)
	return out, nil
}

// parseCPURange parses "N" or "N-M" within 0..MaxCPU.
func parseCPURange(s string) (lo, hi int, err error) {
	ls, hs, isRange := strings.Cut(s, "-")
	l, err1 := strconv.Atoi(ls)
	h := l
	var err2 error
	if isRange {
		h, err2 = strconv.Atoi(hs)
	}
	if err1 != nil || err2 != nil || l < 0 || h < l || h > MaxCPU {
		return 0, 0, invalid("invalid CPU range %q", s)
	}
	return l, h, nil
}

// SyscallFilter is SystemCallFilter=: system calls or @groups allowed and
// denied. An allow list makes the filter privileged.
type SyscallFilter struct {
	// Allow lists names allowed in addition to nspawn's default set.
	Allow []string
	// Deny lists names denied (lines starting with "~").
	Deny []string
}

// String formats the filter as "ALLOW... ~DENY...".
func (f SyscallFilter) String() string {
	s := strings.Join(f.Allow, " ")
	if len(f.Deny) > 0 {
		if s != "" {
			s += " "
		}
		s += "~" + strings.Join(f.Deny, " ")
	}
	return s
}

// parseSyscallFilter adds one line: a deny list when it starts with "~".
func parseSyscallFilter(old SyscallFilter, v string) (SyscallFilter, error) {
	deny := strings.HasPrefix(v, "~")
	words, err := splitWords(strings.TrimPrefix(v, "~"))
	if err != nil {
		return SyscallFilter{}, err
	}
	if len(words) == 0 {
		return SyscallFilter{}, errReset
	}
	for _, w := range words {
		if !validSyscallName(w) {
			return SyscallFilter{}, invalid("invalid system call name %q", w)
		}
	}
	var err2 error
	old.Allow, old.Deny = slices.Clip(old.Allow), slices.Clip(old.Deny)
	if deny {
		old.Deny, err2 = appendList(old.Deny, v, words)
	} else {
		old.Allow, err2 = appendList(old.Allow, v, words)
	}
	return old, err2
}

// validSyscallName accepts "name", "@group" and "name:errno".
func validSyscallName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '@' || c == '-' || c == ':' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
