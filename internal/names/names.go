package names

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every validation error of this package.
var ErrInvalid = errors.New("invalid name")

// Host is the name of the pseudo-machine and pseudo-image that stand for the
// host itself.
const Host = ".host"

// MaxMachine is the longest valid machine name, in bytes (HOST_NAME_MAX).
const MaxMachine = 64

// MaxImage is the longest valid image name, in bytes (NAME_MAX).
const MaxImage = 255

// ValidMachine reports whether s is a valid machine name (and hostname).
// The special name ".host" is not valid here; callers that accept it test
// for Host first.
func ValidMachine(s string) error {
	if s == "" {
		return fmt.Errorf("machine name is empty: %w", ErrInvalid)
	}
	if len(s) > MaxMachine {
		return fmt.Errorf("machine name longer than %d bytes: %w", MaxMachine, ErrInvalid)
	}
	if !hostnameShape(s) {
		return fmt.Errorf("machine name %q: only letters, digits, '-' and '.' in non-empty labels that do not start with '-' or end with '-': %w", s, ErrInvalid)
	}
	return nil
}

// hostnameShape checks the character and label rules of hostname_is_valid.
func hostnameShape(s string) bool {
	dot, hyphen := true, true // as if s were preceded by a dot
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if dot || hyphen {
				return false
			}
			dot, hyphen = true, false
		case c == '-':
			if dot {
				return false
			}
			dot, hyphen = false, true
		case isLDH(c):
			dot, hyphen = false, false
		default:
			return false
		}
	}
	return !dot && !hyphen
}

// isLDH reports whether c is an ASCII letter or digit.
func isLDH(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// CleanupHostname turns s into a valid hostname where it can, as systemd's
// hostname_cleanup does: it drops characters that are not allowed, dots and
// hyphens that would start a label, and trailing dots and hyphens, and cuts
// the result to MaxMachine bytes. The result may be empty.
func CleanupHostname(s string) string {
	var b strings.Builder
	dot, hyphen := true, true
	for i := 0; i < len(s) && b.Len() < MaxMachine; i++ {
		switch c := s[i]; {
		case c == '.':
			if dot || hyphen {
				continue
			}
			b.WriteByte(c)
			dot, hyphen = true, false
		case c == '-':
			if dot {
				continue
			}
			b.WriteByte(c)
			dot, hyphen = false, true
		case isLDH(c):
			b.WriteByte(c)
			dot, hyphen = false, false
		}
	}
	return strings.TrimRight(b.String(), ".-")
}

// ValidImage reports whether s is a valid image name.
func ValidImage(s string) error {
	switch {
	case s == "" || s == "." || s == "..":
		return fmt.Errorf("image name %q: %w", s, ErrInvalid)
	case len(s) > MaxImage:
		return fmt.Errorf("image name longer than %d bytes: %w", MaxImage, ErrInvalid)
	case strings.ContainsRune(s, '/'):
		return fmt.Errorf("image name %q contains '/': %w", s, ErrInvalid)
	case strings.HasPrefix(s, ".#"):
		return fmt.Errorf("image name %q starts with \".#\": %w", s, ErrInvalid)
	case !utf8.ValidString(s):
		return fmt.Errorf("image name is not valid UTF-8: %w", ErrInvalid)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("image name %q contains control or format character %U: %w", s, r, ErrInvalid)
		}
	}
	return nil
}

// Hidden reports whether an image name is hidden (starts with '.').
func Hidden(s string) bool { return strings.HasPrefix(s, ".") }
