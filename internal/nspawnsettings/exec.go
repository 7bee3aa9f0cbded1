package nspawnsettings

import (
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"
)

// UsersMode is the kind of user namespace PrivateUsers= asks for.
type UsersMode int

// The user namespace modes. UsersNo is the default.
const (
	// UsersNo runs without a user namespace.
	UsersNo UsersMode = iota
	// UsersYes takes the shift from the owner of the root directory.
	UsersYes
	// UsersPick picks a free range.
	UsersPick
	// UsersIdentity maps 0..65535 to itself.
	UsersIdentity
	// UsersFixed uses Shift and Range as given.
	UsersFixed
)

// PrivateUsers is the PrivateUsers= value.
type PrivateUsers struct {
	// Mode is no, yes, pick, identity or a fixed range.
	Mode UsersMode
	// Shift is the first host UID, for UsersFixed.
	Shift uint32
	// Range is the number of UIDs, for UsersFixed.
	Range uint32
}

// String formats p as "no", "yes", "pick", "identity" or "SHIFT:RANGE".
func (p PrivateUsers) String() string {
	switch p.Mode {
	case UsersYes:
		return "yes"
	case UsersPick:
		return "pick"
	case UsersIdentity:
		return "identity"
	case UsersFixed:
		return fmt.Sprintf("%d:%d", p.Shift, p.Range)
	}
	return "no"
}

// parsePrivateUsersFile parses PrivateUsers= in a file: booleans first, so
// "0" means no and "1" means yes.
func parsePrivateUsersFile(v string) (PrivateUsers, error) {
	if b, ok := boolWord(v); ok {
		if b {
			return PrivateUsers{Mode: UsersYes}, nil
		}
		return PrivateUsers{}, nil
	}
	return parsePrivateUsersWord(v)
}

// parsePrivateUsersCommandLine parses --private-users=: digits are never
// booleans, so "0" means shift 0 with the default range.
func parsePrivateUsersCommandLine(v string) (PrivateUsers, error) {
	if strings.Trim(v, "0123456789") != "" {
		if b, ok := boolWord(v); ok {
			if b {
				return PrivateUsers{Mode: UsersYes}, nil
			}
			return PrivateUsers{}, nil
		}
	}
	return parsePrivateUsersWord(v)
}

// parsePrivateUsersWord parses "pick", "identity", "N" or "N:M".
func parsePrivateUsersWord(v string) (PrivateUsers, error) {
	switch v {
	case "pick":
		return PrivateUsers{Mode: UsersPick}, nil
	case "identity":
		return PrivateUsers{Mode: UsersIdentity}, nil
	}
	ss, rs, hasRange := strings.Cut(v, ":")
	shift, err := parseUint(ss, 32)
	if err != nil {
		return PrivateUsers{}, err
	}
	rng := uint64(0x10000)
	if hasRange {
		if rng, err = parseUint(rs, 32); err != nil {
			return PrivateUsers{}, err
		}
	}
	if rng == 0 || shift+rng > 1<<32-1 {
		return PrivateUsers{}, invalid("UID range %q out of bounds", v)
	}
	return PrivateUsers{Mode: UsersFixed, Shift: uint32(shift), Range: uint32(rng)}, nil
}

// OwnershipMode is PrivateUsersOwnership=.
type OwnershipMode int

// The ownership modes. OwnershipAuto is the default value of the field; the
// spawner decides what auto means.
const (
	OwnershipAuto OwnershipMode = iota
	OwnershipOff
	OwnershipChown
	OwnershipMap
)

var ownershipNames = []string{"auto", "off", "chown", "map"}

// String returns the mode's keyword.
func (m OwnershipMode) String() string { return ownershipNames[m] }

// VolatileMode is Volatile=.
type VolatileMode int

// The volatile modes; VolatileNo is the default.
const (
	VolatileNo VolatileMode = iota
	VolatileYes
	VolatileState
	VolatileOverlay
)

var volatileNames = []string{"no", "yes", "state", "overlay"}

// String returns the mode's keyword.
func (m VolatileMode) String() string { return volatileNames[m] }

// parseVolatile accepts a boolean, "state" or "overlay".
func parseVolatile(v string) (VolatileMode, error) {
	if b, ok := boolWord(v); ok {
		if b {
			return VolatileYes, nil
		}
		return VolatileNo, nil
	}
	return parseEnum[VolatileMode](v, volatileNames)
}

// ResolvConfMode is ResolvConf=; the zero value is "auto".
type ResolvConfMode int

var resolvConfNames = []string{
	"auto", "off", "copy-host", "copy-static", "copy-uplink", "copy-stub",
	"replace-host", "replace-static", "replace-uplink", "replace-stub",
	"bind-host", "bind-static", "bind-uplink", "bind-stub", "delete",
}

// String returns the mode's keyword.
func (m ResolvConfMode) String() string { return resolvConfNames[m] }

// TimezoneMode is Timezone=; the zero value is "auto".
type TimezoneMode int

var timezoneNames = []string{"auto", "off", "copy", "bind", "symlink", "delete"}

// String returns the mode's keyword.
func (m TimezoneMode) String() string { return timezoneNames[m] }

// LinkJournalMode is LinkJournal=; the zero value is "auto".
type LinkJournalMode int

var linkJournalNames = []string{"auto", "no", "host", "guest", "try-host", "try-guest"}

// String returns the mode's keyword.
func (m LinkJournalMode) String() string { return linkJournalNames[m] }

// parseEnum maps a keyword to its index in names.
func parseEnum[T ~int](v string, names []string) (T, error) {
	for i, n := range names {
		if n == v {
			return T(i), nil
		}
	}
	return 0, invalid("%q is not one of %s", v, strings.Join(names, ", "))
}

// MachineID is a 128-bit machine ID; the zero value is unset.
type MachineID [16]byte

// String returns 32 hex digits, or "" for the zero ID.
func (m MachineID) String() string {
	if m == (MachineID{}) {
		return ""
	}
	return hex.EncodeToString(m[:])
}

// parseMachineID accepts 32 hex digits or the UUID form; not all zero.
func parseMachineID(v string) (MachineID, error) {
	var m MachineID
	s := v
	if len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' {
		s = strings.ReplaceAll(s, "-", "")
	}
	if len(s) != 32 {
		return m, invalid("machine ID %q is not 128 bits", v)
	}
	if _, err := hex.Decode(m[:], []byte(s)); err != nil || m == (MachineID{}) {
		return MachineID{}, invalid("invalid machine ID %q", v)
	}
	return m, nil
}

// PivotRoot is PivotRoot=NEW[:OLD].
type PivotRoot struct {
	// New is the directory that becomes the root.
	New string
	// Old is where the old root goes; empty for the default.
	Old string
}

// String formats p as NEW[:OLD].
func (p PivotRoot) String() string {
	if p.Old == "" {
		return p.New
	}
	return p.New + ":" + p.Old
}

// ParsePivotRoot parses PivotRoot= and --pivot-root=: NEW[:OLD], both
// absolute paths; empty unsets.
func ParsePivotRoot(v string) (PivotRoot, error) {
	if v == "" {
		return PivotRoot{}, nil
	}
	n, o, hasOld := strings.Cut(v, ":")
	if err := validPath(n); err != nil {
		return PivotRoot{}, err
	}
	if hasOld {
		if err := validPath(o); err != nil {
			return PivotRoot{}, err
		}
	}
	return PivotRoot{New: n, Old: o}, nil
}

// parseEnvironment appends NAME=VALUE words.
func parseEnvironment(old []string, v string) ([]string, error) {
	words, err := splitWords(v)
	if err != nil {
		return nil, err
	}
	for _, w := range words {
		name, _, ok := strings.Cut(w, "=")
		if !ok || !validEnvName(name) || !utf8.ValidString(w) {
			return nil, invalid("invalid environment assignment %q", w)
		}
	}
	return appendList(old, v, words)
}

// validEnvName reports whether s is a valid environment variable name.
func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// parseUserName checks a user name (User=, BindUser=): the relaxed rules
// of valid_user_group_name.
func parseUserName(v string) (string, error) {
	if v == "" || len(v) > 256 || v[0] == '-' || strings.Trim(v, "0123456789") == "" {
		return "", invalid("invalid user name %q", v)
	}
	for _, r := range v {
		if r <= ' ' || r == ':' || r == '/' || r == 0x7f || r == utf8.RuneError {
			return "", invalid("invalid user name %q", v)
		}
	}
	return v, nil
}

// parseUserNames appends whitespace-separated user names.
func parseUserNames(old []string, v string) ([]string, error) {
	words, err := splitWords(v)
	if err != nil {
		return nil, err
	}
	for _, w := range words {
		if _, err := parseUserName(w); err != nil {
			return nil, err
		}
	}
	return appendList(old, v, words)
}

// personalities are the Personality= values valid on this architecture.
func personalities() []string {
	switch runtime.GOARCH {
	case "amd64":
		return []string{"x86", "x86-64"}
	case "386":
		return []string{"x86"}
	case "arm64":
		return []string{"arm", "arm64"}
	case "s390x":
		return []string{"s390", "s390x"}
	case "ppc64le":
		return []string{"ppc64-le"}
	}
	return []string{runtime.GOARCH}
}

// parsePersonality accepts an architecture name this host can run; empty
// unsets.
func parsePersonality(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	for _, p := range personalities() {
		if p == v {
			return v, nil
		}
	}
	return "", invalid("personality %q not supported here", v)
}

// parseOOMScoreAdjust accepts -1000..1000.
func parseOOMScoreAdjust(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < -1000 || n > 1000 {
		return 0, invalid("OOM score adjustment %q not in -1000..1000", v)
	}
	return n, nil
}
