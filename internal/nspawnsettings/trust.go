package nspawnsettings

import "fmt"

// untrustedAllowed is the allow-list of keys a file from an untrusted
// directory (next to the image) may set. Every key missing here is
// privileged and dropped with a warning, so a key added to the table later
// is privileged until it is added here on purpose. A non-nil function
// narrows the permission: it strips what is privileged in the value in
// place and reports whether it stripped something. A switch, not a map:
// no table is built at every process start.
func untrustedAllowed(key string) (narrow func(s *Settings) (stripped bool), allowed bool) {
	switch key {
	case "Boot", "ProcessTwo", "Parameters", "Environment",
		"User", "WorkingDirectory", "PivotRoot",
		"DropCapability", "KillSignal", "Personality",
		"NotifyReady", "Hostname", "NoNewPrivileges",
		"ResolvConf", "Timezone", "SuppressSync",
		"ReadOnly", "Volatile":
		return nil, true
	case "Capability":
		return narrowCapability, true
	case "SystemCallFilter":
		return narrowSystemCallFilter, true
	}
	return nil, false
}

// narrowCapability: Capability= may only be present when it adds nothing.
func narrowCapability(s *Settings) bool {
	if s.Capability.Value == 0 {
		return false
	}
	s.Capability = Field[Capabilities]{}
	return true
}

// narrowSystemCallFilter: a deny list only restricts; an allow list widens
// the filter.
func narrowSystemCallFilter(s *Settings) bool {
	if len(s.SystemCallFilter.Value.Allow) == 0 {
		return false
	}
	s.SystemCallFilter.Value.Allow = nil
	if len(s.SystemCallFilter.Value.Deny) == 0 {
		s.SystemCallFilter = Field[SyscallFilter]{}
	}
	return true
}

// Untrusted returns a copy of s with every privileged setting removed, and
// one warning per removed setting naming it and the file it came from.
// Settings that came from the command line are never removed.
func Untrusted(s *Settings) (*Settings, []Warning) {
	var out Settings
	for _, k := range keyTable() {
		k.copy(&out, s)
	}
	var warns []Warning
	for _, k := range keyTable() {
		if !k.isSet(&out) {
			continue
		}
		o := k.origin(&out)
		if o.Kind != FromFile {
			continue
		}
		narrow, allowed := untrustedAllowed(k.name)
		switch {
		case allowed && narrow == nil:
			continue
		case allowed && !narrow(&out):
			continue
		case !allowed:
			k.clear(&out)
		}
		warns = append(warns, Warning{File: o.File, Line: o.Line, Key: k.name,
			Msg: fmt.Sprintf("ignoring %s=: privileged setting in untrusted file %s", k.name, o.File)})
	}
	return &out, warns
}

// Privileged reports whether key may not be used from an untrusted file
// (at least for some of its values).
func Privileged(key string) bool {
	narrow, ok := untrustedAllowed(key)
	return !ok || narrow != nil
}
