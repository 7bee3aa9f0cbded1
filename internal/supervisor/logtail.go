package supervisor

import (
	"io"
	"strings"
	"unicode"
)

// tailWindow is how much of the end of a log lastOutput reads, and
// lineLimit how much of the line it returns.
const (
	tailWindow = 4096
	lineLimit  = 512
)

// lastOutput returns the last non-empty line the payload wrote to the
// log in r (size bytes long) at or after offset from, leaving out the
// monitor's own lines; "" if there is none. The line is cut to lineLimit
// bytes and made printable UTF-8, since it ends up in a D-Bus error.
func lastOutput(r io.ReaderAt, from, size int64) string {
	from = max(from, size-tailWindow, 0)
	if size <= from {
		return ""
	}
	buf := make([]byte, size-from)
	n, _ := r.ReadAt(buf, from)
	lines := strings.Split(string(buf[:n]), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, monitorPrefix) {
			continue
		}
		return printable(line)
	}
	return ""
}

// printable replaces invalid UTF-8 and control characters in s with '?'
// and cuts it to lineLimit bytes.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	if len(s) > lineLimit {
		s = strings.ToValidUTF8(s[:lineLimit], "") + "…"
	}
	return s
}
