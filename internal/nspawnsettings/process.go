package nspawnsettings

import (
	"errors"
	"fmt"

	"github.com/berth-dev/berth/internal/seccomp"
)

// ErrUnsupported is wrapped by CheckSupported's error: a file asks for
// something berth-nspawn reads but cannot do.
var ErrUnsupported = errors.New("setting not supported by berth-nspawn")

// Process are the settings that act on the payload's process itself and
// have no field of their own in the spawner's configuration: they are
// applied in the container just before the payload is executed, and the
// payload inherits them.
type Process struct {
	// Limits are the resource limits to set, indexed by Rlimit*; nil
	// keeps the limit the spawner had.
	Limits [RlimitCount]*Rlimit `json:"limits,omitempty"`
	// Personality is the Personality= architecture; empty keeps the
	// host's.
	Personality string `json:"personality,omitempty"`
	// OOMScoreAdjust is the OOMScoreAdjust= value; nil keeps the
	// spawner's.
	OOMScoreAdjust *int `json:"oom_score_adjust,omitempty"`
	// CPUAffinity are the CPUs the payload may run on; empty keeps the
	// spawner's.
	CPUAffinity CPUSet `json:"cpu_affinity,omitempty"`
	// SystemCallDeny are the SystemCallFilter= deny-list entries (names,
	// @groups, with ":ERRNO"), for package seccomp; empty installs no
	// filter.
	SystemCallDeny []string `json:"system_call_deny,omitempty"`
	// SuppressSync makes the sync calls no-ops (seccomp.SuppressSync).
	SuppressSync bool `json:"suppress_sync,omitempty"`
}

// IsZero reports whether p changes nothing.
func (p Process) IsZero() bool {
	return p.Limits == [RlimitCount]*Rlimit{} && p.Personality == "" && p.OOMScoreAdjust == nil &&
		len(p.CPUAffinity) == 0 && len(p.SystemCallDeny) == 0 && !p.SuppressSync
}

// Process returns the process settings set in s, from the file or the
// command line.
func (s *Settings) Process() Process {
	var p Process
	for i, f := range s.Limits {
		if f.Set {
			v := f.Value
			p.Limits[i] = &v
		}
	}
	if s.Personality.Set {
		p.Personality = s.Personality.Value
	}
	if s.OOMScoreAdjust.Set {
		v := s.OOMScoreAdjust.Value
		p.OOMScoreAdjust = &v
	}
	if s.CPUAffinity.Set {
		p.CPUAffinity = s.CPUAffinity.Value
	}
	p.SystemCallDeny = s.SystemCallFilter.Value.Deny
	p.SuppressSync = s.SuppressSync.Value
	return p
}

// unsupported are the keys berth-nspawn parses but cannot apply, each
// with the test of whether a value asks for something (the default is
// fine) and the reason.
var unsupported = []struct {
	key string
	// asks reports whether s's value of key would need the feature.
	asks func(s *Settings) bool
	why  string
}{
	{"BindUser", func(s *Settings) bool { return len(s.BindUser.Value) > 0 },
		"host users are not mapped into containers (no split UID map, no user records)"},
}

// CheckSupported refuses settings berth-nspawn cannot apply: BindUser=,
// SuppressSync=yes where package
// seccomp has no table, and a
// SystemCallFilter= deny list naming a system call, group or errno
// package seccomp does not know (or any deny list on an architecture it
// has no table for). An allow list is fine: berth-nspawn runs no filter
// that would need widening. The error names each key with the file and
// line that set it and wraps ErrUnsupported; nil when s asks for none of
// them.
func (s *Settings) CheckSupported() error {
	var errs []error
	for _, u := range unsupported {
		e, _ := s.Lookup(u.key)
		if e.Origin.Kind != FromDefault && u.asks(s) {
			errs = append(errs, fmt.Errorf("%s: %s=%s: %w: %s", e.Origin, u.key, e.Value, ErrUnsupported, u.why))
		}
	}
	if s.SuppressSync.Value {
		if _, err := seccomp.SuppressSync(); err != nil {
			e, _ := s.Lookup("SuppressSync")
			errs = append(errs, fmt.Errorf("%s: SuppressSync=yes: %w: %w", e.Origin, ErrUnsupported, err))
		}
	}
	if deny := s.SystemCallFilter.Value.Deny; len(deny) > 0 {
		if _, err := seccomp.Rules(deny); err != nil {
			e, _ := s.Lookup("SystemCallFilter")
			errs = append(errs, fmt.Errorf("%s: SystemCallFilter=%s: %w: %w", e.Origin, e.Value, ErrUnsupported, err))
		}
	}
	return errors.Join(errs...)
}
