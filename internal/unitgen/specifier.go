package unitgen

import (
	"fmt"
	"strconv"
	"strings"
)

// Host holds the facts about the host that some specifiers expand to.
// Empty fields make their specifiers an error.
type Host struct {
	// Hostname is the host name (%H, and %l up to its first dot).
	Hostname string
	// MachineID is the host's machine ID (%m).
	MachineID string
	// BootID is the current boot ID (%b).
	BootID string
	// KernelRelease is uname -r (%v).
	KernelRelease string
}

// unitName is a parsed "prefix@instance.suffix" unit name.
type unitName struct {
	full, prefix, instance, suffix string
}

func parseUnitName(full string) unitName {
	n := unitName{full: full}
	base := full
	if i := strings.LastIndexByte(full, '.'); i > 0 {
		base, n.suffix = full[:i], full[i:]
	}
	n.prefix, n.instance, _ = strings.Cut(base, "@")
	return n
}

// specifiers returns the expansion table for unit u on host h: the system
// manager's values (berth's units always run in the system manager, as
// root).
func specifiers(u unitName, h Host) map[byte]string {
	m := map[byte]string{
		'n': u.full, 'N': strings.TrimSuffix(u.full, u.suffix),
		'p': u.prefix, 'P': unescape(u.prefix),
		'i': u.instance, 'I': unescape(u.instance),
		'j': lastDash(u.prefix), 'J': unescape(lastDash(u.prefix)),
		'f': "/" + unescape(u.instance),
		't': "/run", 'S': "/var/lib", 'C': "/var/cache", 'L': "/var/log",
		'T': "/tmp", 'V': "/var/tmp", 'E': "/etc",
		'h': "/root", 'u': "root", 'U': "0", 'g': "root", 'G': "0", 's': "/bin/sh",
		'H': h.Hostname, 'm': h.MachineID, 'b': h.BootID, 'v': h.KernelRelease,
	}
	if u.instance == "" {
		m['f'] = "/" + unescape(u.prefix)
	}
	m['l'], _, _ = strings.Cut(h.Hostname, ".")
	return m
}

// lastDash returns the part of s after its last '-' (all of s without one).
func lastDash(s string) string {
	return s[strings.LastIndexByte(s, '-')+1:]
}

// unescape undoes systemd's unit name escaping: "-" is "/" and "\xNN" is
// the byte NN.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '-':
			b.WriteByte('/')
		case s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x':
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// expand replaces every specifier in s. An unknown specifier, a specifier
// whose value is unknown, or a trailing lone '%' is an error.
func expand(s string, spec map[byte]string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("%w: lone %% at the end of %q", ErrTemplate, s)
		}
		i++
		if s[i] == '%' {
			b.WriteByte('%')
			continue
		}
		v, ok := spec[s[i]]
		if !ok || v == "" {
			return "", fmt.Errorf("%w: specifier %%%c in %q is not supported or has no value", ErrTemplate, s[i], s)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}
