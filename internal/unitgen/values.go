package unitgen

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/signame"
)

// Infinity is the value of a limit set to "infinity".
const Infinity = math.MaxUint64

// splitWords splits a command line or list the way systemd's
// extract_first_word does with EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE_RELAX:
// white space separates words, single and double quotes group, and C
// escapes are decoded (unknown ones are kept as written).
func splitWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("%w: trailing backslash in %q", ErrTemplate, s)
			}
			i++
			w.WriteString(unescapeC(s[i]))
			inWord = true
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			w.WriteByte(c)
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%w: unterminated quote in %q", ErrTemplate, s)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// unescapeC decodes the single-character C escapes; others stay as written.
func unescapeC(c byte) string {
	switch c {
	case 'n':
		return "\n"
	case 't':
		return "\t"
	case 's':
		return " "
	case '\\', '"', '\'', ' ', ';':
		return string(c)
	}
	return `\` + string(c)
}

// parseBool parses systemd's boolean spellings.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "yes", "y", "true", "t", "on":
		return true, nil
	case "0", "no", "n", "false", "f", "off":
		return false, nil
	}
	return false, fmt.Errorf("%w: %q is not a boolean", ErrTemplate, s)
}

var timeUnits = []struct {
	suffix string
	unit   time.Duration
}{
	{"usec", time.Microsecond}, {"us", time.Microsecond}, {"msec", time.Millisecond}, {"ms", time.Millisecond},
	{"seconds", time.Second}, {"second", time.Second}, {"sec", time.Second}, {"s", time.Second},
	{"minutes", time.Minute}, {"minute", time.Minute}, {"min", time.Minute}, {"m", time.Minute},
	{"hours", time.Hour}, {"hour", time.Hour}, {"hr", time.Hour}, {"h", time.Hour},
	{"days", 24 * time.Hour}, {"day", 24 * time.Hour}, {"d", 24 * time.Hour},
}

// parseTimespan parses a systemd time span ("90", "90s", "1min 30s",
// "infinity"); a bare number is seconds. Infinity and zero, which systemd
// treats alike for timeouts, are returned as 0.
func parseTimespan(s string) (time.Duration, error) {
	if s == "infinity" {
		return 0, nil
	}
	var total time.Duration
	rest := strings.TrimSpace(s)
	for rest != "" {
		n := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if n == 0 {
			return 0, fmt.Errorf("%w: bad time span %q", ErrTemplate, s)
		}
		if n < 0 {
			n = len(rest)
		}
		v, err := strconv.ParseUint(rest[:n], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%w: bad time span %q", ErrTemplate, s)
		}
		rest = strings.TrimLeft(rest[n:], " ")
		unit := time.Second
		for _, u := range timeUnits {
			if after, ok := strings.CutPrefix(rest, u.suffix); ok && (after == "" || after[0] == ' ' || after[0] >= '0' && after[0] <= '9') {
				unit, rest = u.unit, strings.TrimLeft(after, " ")
				break
			}
		}
		total += time.Duration(v) * unit
	}
	if strings.TrimSpace(s) == "" {
		return 0, fmt.Errorf("%w: empty time span", ErrTemplate)
	}
	return total, nil
}

// parseLimit parses a count or size limit: a number, a number with a
// binary suffix (K, M, G, T), or "infinity".
func parseLimit(s string) (uint64, error) {
	if s == "infinity" {
		return Infinity, nil
	}
	mult := uint64(1)
	for i, suf := range "KMGT" {
		if strings.HasSuffix(s, string(suf)) {
			s, mult = strings.TrimSuffix(s, string(suf)), 1<<(10*(i+1))
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > math.MaxUint64/mult {
		return 0, fmt.Errorf("%w: bad limit %q", ErrTemplate, s)
	}
	return v * mult, nil
}

// parseWeight parses a CPUWeight=/IOWeight= value (1 to 10000).
func parseWeight(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v < 1 || v > 10000 {
		return 0, fmt.Errorf("%w: weight %q is not in 1..10000", ErrTemplate, s)
	}
	return v, nil
}

// parsePercent parses a CPUQuota= value ("150%").
func parsePercent(s string) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimSuffix(s, "%"), 10, 32)
	if err != nil || !strings.HasSuffix(s, "%") || v == 0 {
		return 0, fmt.Errorf("%w: CPU quota %q is not a positive percentage", ErrTemplate, s)
	}
	return v, nil
}

// ParseSignal parses a signal as systemd does ("SIGTERM", "TERM",
// "SIGRTMIN+4", a number; see internal/signame).
func ParseSignal(s string) (unix.Signal, error) {
	n, err := signame.Parse(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	return unix.Signal(n), nil
}

// SignalName returns the name systemd uses for sig ("SIGRTMIN+4").
func SignalName(sig unix.Signal) string { return signame.Name(int(sig)) }

// ExitStatus is a parsed SuccessExitStatus=/RestartForceExitStatus= list.
type ExitStatus struct {
	// Codes are exit codes (0..255).
	Codes []int
	// Signals are terminating signals.
	Signals []unix.Signal
}

func parseExitStatus(vals []string) (ExitStatus, error) {
	var es ExitStatus
	for _, v := range vals {
		for _, w := range strings.Fields(v) {
			if n, err := strconv.Atoi(w); err == nil {
				if n < 0 || n > 255 {
					return es, fmt.Errorf("%w: exit status %q out of range", ErrTemplate, w)
				}
				es.Codes = append(es.Codes, n)
				continue
			}
			sig, err := ParseSignal(w)
			if err != nil {
				return es, err
			}
			es.Signals = append(es.Signals, sig)
		}
	}
	return es, nil
}

// Has reports whether the status is in the list: code for a normal exit,
// sig for death by a signal (code is then ignored).
func (es ExitStatus) Has(code int, sig unix.Signal) bool {
	if sig != 0 {
		for _, s := range es.Signals {
			if s == sig {
				return true
			}
		}
		return false
	}
	for _, c := range es.Codes {
		if c == code {
			return true
		}
	}
	return false
}
