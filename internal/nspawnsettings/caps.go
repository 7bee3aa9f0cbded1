package nspawnsettings

import (
	"math/bits"
	"strconv"
	"strings"
)

// capNames are the Linux capability names by number, without "CAP_".
var capNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
	"NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
	"SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

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
		if n < len(capNames) {
			names = append(names, "CAP_"+capNames[n])
		} else {
			names = append(names, strconv.Itoa(n))
		}
	}
	return strings.Join(names, " ")
}

// parseCapability parses one name ("CAP_SYS_ADMIN", "sys_admin") or number.
func parseCapability(w string) (Capabilities, error) {
	if n, err := strconv.ParseUint(w, 10, 8); err == nil && n < 64 {
		return 1 << n, nil
	}
	name := strings.TrimPrefix(strings.ToUpper(w), "CAP_")
	for i, c := range capNames {
		if c == name {
			return 1 << i, nil
		}
	}
	return 0, invalid("unknown capability %q", w)
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

// signalNames are the standard Linux signals by number (index 0 unused).
var signalNames = []string{
	"", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL",
	"USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT",
	"STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF",
	"WINCH", "IO", "PWR", "SYS",
}

// Real-time signal bounds as glibc exposes them to programs.
const (
	sigRTMin = 34
	sigRTMax = 64
)

// Signal is a signal number; 0 means none.
type Signal int

// String returns "SIGTERM", "SIGRTMIN+3", or "" for none.
func (s Signal) String() string {
	switch {
	case s <= 0:
		return ""
	case int(s) < len(signalNames):
		return "SIG" + signalNames[s]
	case s == sigRTMin:
		return "SIGRTMIN"
	case s <= sigRTMax:
		return "SIGRTMIN+" + strconv.Itoa(int(s)-sigRTMin)
	}
	return strconv.Itoa(int(s))
}

// parseSignal parses "SIGTERM", "TERM", "RTMIN+3", "SIGRTMAX-1" or a
// number, as signal_from_string does. Empty unsets.
func parseSignal(v string) (Signal, error) {
	if v == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n <= 0 || n > sigRTMax {
			return 0, invalid("signal number %d out of range", n)
		}
		return Signal(n), nil
	}
	name := strings.TrimPrefix(v, "SIG")
	for i, s := range signalNames {
		if i > 0 && s == name {
			return Signal(i), nil
		}
	}
	return parseRTSignal(v, name)
}

// parseRTSignal parses RTMIN, RTMIN+n, RTMAX and RTMAX-n.
func parseRTSignal(v, name string) (Signal, error) {
	base, off, sign := 0, "", 1
	switch {
	case strings.HasPrefix(name, "RTMIN"):
		base, off = sigRTMin, strings.TrimPrefix(name, "RTMIN")
	case strings.HasPrefix(name, "RTMAX"):
		base, off, sign = sigRTMax, strings.TrimPrefix(name, "RTMAX"), -1
	default:
		return 0, invalid("unknown signal %q", v)
	}
	if off == "" {
		return Signal(base), nil
	}
	want := "+"
	if sign < 0 {
		want = "-"
	}
	n, err := strconv.Atoi(strings.TrimPrefix(off, want))
	if err != nil || !strings.HasPrefix(off, want) || n < 0 || n > sigRTMax-sigRTMin {
		return 0, invalid("unknown signal %q", v)
	}
	return Signal(base + sign*n), nil
}
