package nspawnsettings

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Parse parses the contents of a .nspawn file. name is used in errors and
// origins (normally the file's path). Unknown sections and keys become
// warnings; malformed values and oversized input are errors (a *ParseError,
// several joined with errors.Join), and then the file must not be used.
// Parse never panics on any input.
func Parse(data []byte, name string) (*Settings, []Warning, error) {
	if len(data) > MaxFileSize {
		return nil, nil, &ParseError{File: name, Err: fmt.Errorf("file larger than %d bytes: %w", MaxFileSize, ErrTooLarge)}
	}
	p := parser{name: name, s: new(Settings)}
	p.run(data)
	if len(p.errs) > 0 {
		return nil, p.warnings, errors.Join(p.errs...)
	}
	p.s.applyFileDefaults()
	return p.s, p.warnings, nil
}

// ReadFrom reads at most MaxFileSize+1 bytes from r and parses them; see
// Parse.
func ReadFrom(r io.Reader, name string) (*Settings, []Warning, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	return Parse(data, name)
}

// parser is the state of one Parse call.
type parser struct {
	name     string
	s        *Settings
	section  string // current section; "" before the first, "?" unknown
	warnings []Warning
	errs     []error
	stop     bool // a size limit was hit: parse no further
}

// run feeds every logical line of data to line.
func (p *parser) run(data []byte) {
	var logical []byte
	start := 0
	for n, raw := range bytes.SplitAfter(data, []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		raw = bytes.TrimSuffix(bytes.TrimSuffix(raw, []byte("\n")), []byte("\r"))
		if len(logical) == 0 {
			start = n + 1
			if t := bytes.TrimLeft(raw, " \t"); len(t) > 0 && (t[0] == '#' || t[0] == ';') {
				continue
			}
		}
		if len(logical)+len(raw) > MaxLineSize {
			p.fail(start, "", fmt.Errorf("line longer than %d bytes: %w", MaxLineSize, ErrTooLarge))
			return
		}
		if cont, ok := bytes.CutSuffix(raw, []byte(`\`)); ok && !bytes.HasSuffix(cont, []byte(`\`)) {
			logical = append(append(logical, cont...), ' ')
			continue
		}
		logical = append(logical, raw...)
		p.line(start, logical)
		logical = logical[:0]
		if len(p.errs) >= maxErrors || p.stop {
			return
		}
	}
	if len(logical) > 0 {
		p.line(start, logical)
	}
}

// line handles one logical line.
func (p *parser) line(n int, b []byte) {
	if bytes.IndexByte(b, 0) >= 0 {
		p.fail(n, "", invalid("NUL byte in line"))
		return
	}
	if !utf8.Valid(b) {
		p.fail(n, "", invalid("line is not valid UTF-8"))
		return
	}
	l := strings.TrimSpace(string(b))
	switch {
	case l == "":
	case strings.HasPrefix(l, "["):
		p.header(n, l)
	default:
		p.assignment(n, l)
	}
}

// header handles "[Section]".
func (p *parser) header(n int, l string) {
	name, ok := strings.CutSuffix(strings.TrimPrefix(l, "["), "]")
	if !ok {
		p.fail(n, "", invalid("malformed section header %q", l))
		return
	}
	for _, s := range Sections {
		if s == name {
			p.section = s
			return
		}
	}
	p.section = "?"
	if !strings.HasPrefix(name, "X-") {
		p.warn(n, "", fmt.Sprintf("unknown section [%s], ignoring its keys", name))
	}
}

// assignment handles "Key=Value".
func (p *parser) assignment(n int, l string) {
	k, v, ok := strings.Cut(l, "=")
	if !ok {
		p.fail(n, "", invalid("line is neither a section nor an assignment"))
		return
	}
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	switch p.section {
	case "":
		p.warn(n, k, "assignment outside of any section, ignoring")
		return
	case "?":
		return
	}
	desc := keyMap()[k]
	if desc == nil || desc.section != p.section {
		p.warn(n, k, fmt.Sprintf("unknown key %s= in [%s], ignoring", k, p.section))
		return
	}
	if err := desc.assign(p.s, v, Origin{Kind: FromFile, File: p.name, Line: n}); err != nil {
		p.fail(n, k, err)
	}
}

func (p *parser) warn(n int, k, msg string) {
	p.warnings = append(p.warnings, Warning{File: p.name, Line: n, Key: k, Msg: msg})
}

func (p *parser) fail(n int, k string, err error) {
	p.errs = append(p.errs, &ParseError{File: p.name, Line: n, Key: k, Err: err})
	p.stop = p.stop || errors.Is(err, ErrTooLarge)
}

// applyFileDefaults applies what nspawn derives inside a file: PrivateUsers=
// pick without an ownership setting means ownership chown, and
// PrivateUsersChown= is the boolean spelling of PrivateUsersOwnership=.
func (s *Settings) applyFileDefaults() {
	if s.PrivateUsersOwnership.Set {
		return
	}
	if s.PrivateUsersChown.Set {
		m := OwnershipOff
		if s.PrivateUsersChown.Value {
			m = OwnershipChown
		}
		s.PrivateUsersOwnership = Field[OwnershipMode]{Value: m, Set: true, Origin: s.PrivateUsersChown.Origin}
		return
	}
	if s.PrivateUsers.Set && s.PrivateUsers.Value.Mode == UsersPick {
		s.PrivateUsersOwnership = Field[OwnershipMode]{Value: OwnershipChown, Set: true, Origin: s.PrivateUsers.Origin}
	}
}
