package imagefiles

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/names"
)

// ErrInvalid is wrapped when a file's content is malformed.
var ErrInvalid = errors.New("invalid image file")

// ErrUnsafe is wrapped when a file is not a regular file, is a symlink in
// its last component, or is larger than the limit.
var ErrUnsafe = errors.New("unsafe image file")

// ErrSymlink is wrapped when the last component of a path is a symlink; it
// also wraps ErrUnsafe.
var ErrSymlink error = &sentinel{"symlink", ErrUnsafe}

// sentinel is a package error that wraps another: what fmt.Errorf("msg:
// %w") gives, without running fmt at every process start.
type sentinel struct {
	msg     string
	wrapped error
}

func (e *sentinel) Error() string { return e.msg + ": " + e.wrapped.Error() }

func (e *sentinel) Unwrap() error { return e.wrapped }

// Size limits of the files read.
const (
	// MaxSmall is the limit for hostname and machine-id.
	MaxSmall = 4 << 10
	// MaxEnv is the limit for os-release and machine-info.
	MaxEnv = 64 << 10
	// maxEnvEntries is the most assignments ParseEnv accepts.
	maxEnvEntries = 1024
)

// ParseHostname returns the first non-comment line of an /etc/hostname
// file, cleaned up as systemd does; "" if there is none.
func ParseHostname(data []byte) (string, error) {
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		h := names.CleanupHostname(l)
		if err := names.ValidMachine(h); err != nil {
			return "", fmt.Errorf("hostname %q: %w", l, ErrInvalid)
		}
		return h, nil
	}
	return "", nil
}

// ParseMachineID returns the 16 bytes of an /etc/machine-id file, or nil
// when it is empty or "uninitialized".
func ParseMachineID(data []byte) ([]byte, error) {
	s := strings.TrimSpace(string(data))
	if s == "" || s == "uninitialized" {
		return nil, nil
	}
	id, err := hex.DecodeString(s)
	if err != nil || len(id) != 16 {
		return nil, fmt.Errorf("machine-id %q: %w", s, ErrInvalid)
	}
	return id, nil
}

// ParseEnv parses an environment-style file (os-release, machine-info):
// KEY=VALUE lines, "#" and ";" comments, single quotes literal, double
// quotes and bare values with backslash escapes, backslash-newline
// continuations. Lines without "=" or with an invalid key are skipped, as
// systemd does.
func ParseEnv(data []byte) (map[string]string, error) {
	if !utf8.Valid(data) || strings.IndexByte(string(data), 0) >= 0 {
		return nil, fmt.Errorf("env file: not valid UTF-8 text: %w", ErrInvalid)
	}
	out := map[string]string{}
	text := strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\\\n", "")
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		k = strings.TrimSpace(k)
		if !ok || !validKey(k) {
			continue
		}
		val, err := unquote(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("env file key %s: %w", k, err)
		}
		if _, dup := out[k]; !dup && len(out) >= maxEnvEntries {
			return nil, fmt.Errorf("env file: more than %d keys: %w", maxEnvEntries, ErrInvalid)
		}
		out[k] = val
	}
	return out, nil
}

// validKey reports whether k is a shell variable name.
func validKey(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// unquote decodes a shell-like value: quoted parts and bare parts may
// alternate ("a"'b'c).
func unquote(v string) (string, error) {
	var b strings.Builder
	var quote byte
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				b.WriteByte(c)
			}
		case c == '\\' && i+1 < len(v) && (quote == 0 || strings.IndexByte("\"\\`$", v[i+1]) >= 0):
			i++
			b.WriteByte(v[i])
		case c == '"' && quote == '"':
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		default:
			b.WriteByte(c)
		}
	}
	if quote != 0 {
		return "", fmt.Errorf("unterminated quote: %w", ErrInvalid)
	}
	return b.String(), nil
}
