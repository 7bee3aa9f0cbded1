package signame

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// RTMin and RTMax are the real-time signal bounds programs see.
const (
	RTMin = 34
	RTMax = 64
)

// ErrUnknown is wrapped by Parse for a string that names no signal.
var ErrUnknown = errors.New("unknown signal")

// names are the standard signals by number, without "SIG".
var names = [...]string{
	1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE",
	9: "KILL", 10: "USR1", 11: "SEGV", 12: "USR2", 13: "PIPE", 14: "ALRM", 15: "TERM",
	16: "STKFLT", 17: "CHLD", 18: "CONT", 19: "STOP", 20: "TSTP", 21: "TTIN", 22: "TTOU",
	23: "URG", 24: "XCPU", 25: "XFSZ", 26: "VTALRM", 27: "PROF", 28: "WINCH", 29: "IO",
	30: "PWR", 31: "SYS",
}

// Parse returns the number of the signal s names.
func Parse(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > RTMax {
			return 0, fmt.Errorf("signal %d out of range 1-%d: %w", n, RTMax, ErrUnknown)
		}
		return n, nil
	}
	name := strings.TrimPrefix(s, "SIG")
	for n, known := range names {
		if known != "" && known == name {
			return n, nil
		}
	}
	if n, ok := realtime(name); ok {
		return n, nil
	}
	return 0, fmt.Errorf("%q: %w", s, ErrUnknown)
}

// realtime parses RTMIN, RTMIN+N, RTMAX and RTMAX-N.
func realtime(name string) (int, bool) {
	base, sign := RTMin, 1
	rest, ok := strings.CutPrefix(name, "RTMIN")
	if !ok {
		if rest, ok = strings.CutPrefix(name, "RTMAX"); !ok {
			return 0, false
		}
		base, sign = RTMax, -1
	}
	if rest == "" {
		return base, true
	}
	op := "+"
	if sign < 0 {
		op = "-"
	}
	digits, ok := strings.CutPrefix(rest, op)
	off, err := strconv.Atoi(digits)
	if !ok || err != nil || off < 0 || off > RTMax-RTMin || digits != strconv.Itoa(off) {
		return 0, false
	}
	return base + sign*off, true
}

// Name returns the name of signal n ("SIGTERM", "SIGRTMIN+4"), or n in
// decimal when it has none.
func Name(n int) string {
	switch {
	case n > 0 && n < len(names) && names[n] != "":
		return "SIG" + names[n]
	case n == RTMin:
		return "SIGRTMIN"
	case n > RTMin && n <= RTMax:
		return "SIGRTMIN+" + strconv.Itoa(n-RTMin)
	}
	return strconv.Itoa(n)
}
