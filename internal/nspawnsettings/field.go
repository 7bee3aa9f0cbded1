package nspawnsettings

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrInvalid is wrapped by every error about a malformed value or file.
var ErrInvalid = errors.New("invalid settings")

// ErrTooLarge is wrapped when a file, a line or a list exceeds its limit.
var ErrTooLarge = errors.New("settings too large")

// Limits on what Parse accepts, so a hostile file cannot make it allocate
// without bound.
const (
	// MaxFileSize is the largest .nspawn file read, in bytes.
	MaxFileSize = 1 << 20
	// MaxLineSize is the longest logical line (after continuations), in bytes.
	MaxLineSize = 64 << 10
	// MaxListEntries is the most entries one list setting may collect.
	MaxListEntries = 4096
	// maxErrors is the most parse errors reported for one file.
	maxErrors = 20
)

// OriginKind says where a setting's value came from.
type OriginKind int

// The origins of a value.
const (
	// FromDefault is a value nobody set: the built-in default.
	FromDefault OriginKind = iota
	// FromFile is a value read from a .nspawn file.
	FromFile
	// FromCommandLine is a value given on the command line of the spawner.
	FromCommandLine
)

// Origin is the provenance of one setting's value.
type Origin struct {
	// Kind is default, file or command line.
	Kind OriginKind
	// File is the path of the .nspawn file, for FromFile.
	File string
	// Line is the 1-based line in File, for FromFile.
	Line int
}

// CommandLine is the Origin of values given on the command line.
var CommandLine = Origin{Kind: FromCommandLine}

// String returns "default", "command line" or "PATH:LINE".
func (o Origin) String() string {
	switch o.Kind {
	case FromFile:
		return o.File + ":" + strconv.Itoa(o.Line)
	case FromCommandLine:
		return "command line"
	}
	return "default"
}

// Field is one setting: its value, whether anybody set it, and from where.
// The zero Field is unset and holds the default.
type Field[T any] struct {
	// Value is the parsed value; the default when Set is false.
	Value T
	// Set reports whether a file or the command line assigned the setting.
	Set bool
	// Origin tells where Value came from.
	Origin Origin
}

// Warning is a problem that does not stop a file from being used: an
// unknown section or key, or a privileged setting dropped from an untrusted
// file.
type Warning struct {
	// File is the path of the .nspawn file.
	File string
	// Line is the 1-based line, or 0 when the warning is about the whole file.
	Line int
	// Key is the setting concerned, when there is one.
	Key string
	// Msg says what is wrong.
	Msg string
}

// String formats the warning as "FILE:LINE: MSG".
func (w Warning) String() string {
	if w.Line == 0 {
		return w.File + ": " + w.Msg
	}
	return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg)
}

// ParseError is a malformed line or value. It wraps ErrInvalid or
// ErrTooLarge.
type ParseError struct {
	// File is the path (or name) of the input.
	File string
	// Line is the 1-based line, 0 for the whole file.
	Line int
	// Key is the setting whose value is malformed, if any.
	Key string
	// Err is the cause.
	Err error
}

// Error formats the error as "FILE:LINE: KEY=: CAUSE".
func (e *ParseError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: %s=: %v", loc, e.Key, e.Err)
	}
	return fmt.Sprintf("%s: %v", loc, e.Err)
}

// Unwrap returns the cause.
func (e *ParseError) Unwrap() error { return e.Err }

// invalid returns an error wrapping ErrInvalid.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}
