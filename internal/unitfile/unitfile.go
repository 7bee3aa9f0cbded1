package unitfile

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// MaxLine is the longest logical line (after joining continuations) the
// parser accepts, as systemd's LONG_LINE_MAX.
const MaxLine = 1 << 20

// ErrSyntax is wrapped by every parse and validation error.
var ErrSyntax = errors.New("unit file syntax")

// File is a parsed unit file: its sections in file order. A section name
// may appear more than once; lookups see all of its occurrences.
type File struct {
	// Sections are the sections in file order.
	Sections []Section
}

// Section is one "[Name]" block.
type Section struct {
	// Name is the section name without brackets, e.g. "Service".
	Name string
	// Entries are the assignments in file order, repeated keys included.
	Entries []Entry
}

// Entry is one "Key=Value" assignment. An empty Value is a reset: for list
// settings it clears the values assigned before it.
type Entry struct {
	// Key is the setting name.
	Key string
	// Value is the assigned value, trimmed of surrounding white space.
	Value string
}

// Parse parses a unit file. Comments ("#" or ";" at the start of a line)
// and blank lines are dropped; a line ending in a backslash continues on
// the next line, joined with a space, as systemd does.
func Parse(b []byte) (*File, error) {
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, fmt.Errorf("parse unit: %w: NUL byte", ErrSyntax)
	}
	f := &File{}
	var cont strings.Builder
	for n, raw := range strings.Split(string(b), "\n") {
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if isComment(line) {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cont.WriteString(strings.TrimSuffix(line, `\`) + " ")
			if cont.Len() > MaxLine {
				return nil, fmt.Errorf("parse unit: line %d: %w: line too long", n+1, ErrSyntax)
			}
			continue
		}
		cont.WriteString(line)
		logical := strings.TrimSpace(cont.String())
		cont.Reset()
		if err := f.parseLine(logical); err != nil {
			return nil, fmt.Errorf("parse unit: line %d: %w", n+1, err)
		}
	}
	if cont.Len() > 0 {
		if err := f.parseLine(strings.TrimSpace(cont.String())); err != nil {
			return nil, fmt.Errorf("parse unit: last line: %w", err)
		}
	}
	return f, nil
}

func isComment(line string) bool {
	return strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";")
}

// parseLine handles one logical line.
func (f *File) parseLine(line string) error {
	switch {
	case len(line) > MaxLine:
		return fmt.Errorf("%w: line too long", ErrSyntax)
	case line == "" || isComment(line):
		return nil
	case strings.HasPrefix(line, "["):
		name, ok := strings.CutSuffix(line[1:], "]")
		if !ok || !validSection(name) {
			return fmt.Errorf("%w: bad section header %q", ErrSyntax, line)
		}
		f.Sections = append(f.Sections, Section{Name: name})
		return nil
	}
	if len(f.Sections) == 0 {
		return fmt.Errorf("%w: assignment outside of a section", ErrSyntax)
	}
	key, value, ok := strings.Cut(line, "=")
	if !ok {
		return fmt.Errorf("%w: missing '=' in %q", ErrSyntax, line)
	}
	// A value can only end in a backslash when a continuation ran into a
	// blank line or the end of the file; drop it, or it would not survive
	// a round trip.
	key, value = strings.TrimSpace(key), strings.TrimRight(strings.TrimSpace(value), " \t\\")
	if !validKey(key) {
		return fmt.Errorf("%w: bad key %q", ErrSyntax, key)
	}
	s := &f.Sections[len(f.Sections)-1]
	s.Entries = append(s.Entries, Entry{Key: key, Value: value})
	return nil
}

func validSection(name string) bool {
	return name != "" && !strings.ContainsAny(name, "[]\n")
}

func validKey(key string) bool {
	if key == "" {
		return false
	}
	for _, c := range key {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// Values returns the values of key in every section named section, in file
// order, honouring resets: an empty assignment drops everything before it.
func (f *File) Values(section, key string) []string {
	var vs []string
	for _, s := range f.Sections {
		if s.Name != section {
			continue
		}
		for _, e := range s.Entries {
			switch {
			case e.Key != key:
			case e.Value == "":
				vs = nil
			default:
				vs = append(vs, e.Value)
			}
		}
	}
	return vs
}

// Value returns the last value of key in section, as systemd does for
// single-valued settings, and whether it was set to anything non-empty.
func (f *File) Value(section, key string) (string, bool) {
	vs := f.Values(section, key)
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// Keys returns the distinct keys assigned in section, in order of first
// appearance.
func (f *File) Keys(section string) []string {
	seen := map[string]bool{}
	var keys []string
	for _, s := range f.Sections {
		if s.Name != section {
			continue
		}
		for _, e := range s.Entries {
			if !seen[e.Key] {
				seen[e.Key] = true
				keys = append(keys, e.Key)
			}
		}
	}
	return keys
}

// Add appends Key=Value to the last section named section, creating the
// section at the end if there is none.
func (f *File) Add(section, key, value string) error {
	if !validSection(section) || !validKey(key) || !validValue(value) {
		return fmt.Errorf("add %s.%s: %w: bad section, key or value", section, key, ErrSyntax)
	}
	for i := len(f.Sections) - 1; i >= 0; i-- {
		if f.Sections[i].Name == section {
			f.Sections[i].Entries = append(f.Sections[i].Entries, Entry{Key: key, Value: value})
			return nil
		}
	}
	f.Sections = append(f.Sections, Section{Name: section, Entries: []Entry{{Key: key, Value: value}}})
	return nil
}

// validValue reports whether value survives a round trip through Bytes and
// Parse: one line, no surrounding white space, no trailing backslash.
func validValue(value string) bool {
	return !strings.ContainsAny(value, "\n\r\x00") && value == strings.TrimSpace(value) &&
		!strings.HasSuffix(value, `\`)
}

// Bytes serializes f. Parse(f.Bytes()) yields f again for every f built by
// Parse and Add.
func (f *File) Bytes() []byte {
	var b bytes.Buffer
	for i, s := range f.Sections {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "[%s]\n", s.Name)
		for _, e := range s.Entries {
			fmt.Fprintf(&b, "%s=%s\n", e.Key, e.Value)
		}
	}
	return b.Bytes()
}
