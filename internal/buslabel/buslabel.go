package buslabel

import (
	"strings"
	"unsafe"
)

const hexDigits = "0123456789abcdef"

// Escape returns s as an object path label, as sd-bus bus_label_escape does.
func Escape(s string) string {
	b := AppendEscape(make([]byte, 0, escapedLen(s)), s)
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is never written again
}

// AppendEscape appends s escaped as Escape does to dst and returns the
// extended buffer, so a caller can build an object path in a buffer it
// reuses (or on its stack) without allocating.
func AppendEscape(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '_')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain(c, i) {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '_', hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

// escapedLen returns the length of s escaped.
func escapedLen(s string) int {
	if s == "" {
		return 1
	}
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !plain(s[i], i) {
			n += 2
		}
	}
	return n
}

// plain reports whether byte c at position i of a string stays as it is
// in its label.
func plain(c byte, i int) bool { return isAlpha(c) || (i > 0 && isDigit(c)) }

// Unescape reverses Escape, as sd-bus bus_label_unescape does: "_" alone is
// the empty string, and an "_" not followed by two hex digits is kept.
func Unescape(label string) string {
	if label == "_" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(label))
	for i := 0; i < len(label); i++ {
		if label[i] == '_' && i+2 < len(label) {
			hi, ok1 := unhex(label[i+1])
			lo, ok2 := unhex(label[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(label[i])
	}
	return b.String()
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func unhex(c byte) (byte, bool) {
	switch {
	case isDigit(c):
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
