package osrelease

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// MaxSize is the largest os-release file read, in bytes.
const MaxSize = 64 << 10

// Candidates are the os-release paths relative to a root, in lookup order.
var Candidates = []string{"etc/os-release", "usr/lib/os-release"}

// ErrSyntax is returned by Parse for a line that is not KEY=VALUE.
var ErrSyntax = errors.New("os-release syntax error")

// ErrNotFound is returned when no os-release file exists below a root.
var ErrNotFound = errors.New("no os-release file")

// Parse parses os-release data: KEY=VALUE lines, blank lines and # comments.
// Values may be single- or double-quoted; in double quotes a backslash
// escapes $, ", \ and `. A later key overrides an earlier one.
func Parse(data []byte) (map[string]string, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("parse os-release: %d bytes exceed %d", len(data), MaxSize)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxSize+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, raw, ok := strings.Cut(line, "=")
		if !ok || !validKey(key) {
			return nil, fmt.Errorf("parse os-release line %d: %w", n, ErrSyntax)
		}
		val, err := unquote(raw)
		if err != nil {
			return nil, fmt.Errorf("parse os-release line %d: %w", n, err)
		}
		out[key] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse os-release: %w", err)
	}
	return out, nil
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		alpha := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		if !alpha && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// unquote handles one shell-style word: unquoted, '…' or "…" parts,
// concatenated.
func unquote(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", fmt.Errorf("unterminated quote: %w", ErrSyntax)
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case '"':
			n, err := doubleQuoted(s[i+1:], &b)
			if err != nil {
				return "", err
			}
			i += n + 1
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// doubleQuoted writes the content of a "…" string starting after the
// opening quote to b and returns how many bytes it consumed (not counting
// the closing quote).
func doubleQuoted(s string, b *strings.Builder) (int, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i, nil
		case c == '\\' && i+1 < len(s) && strings.IndexByte("$\"\\`", s[i+1]) >= 0:
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return 0, fmt.Errorf("unterminated quote: %w", ErrSyntax)
}
