package privusers

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/idmap"
)

// ErrInvalid is returned for option values that cannot be parsed or that
// contradict each other.
var ErrInvalid = errors.New("invalid user namespace setting")

// Mode is how the machine's user namespace is chosen.
type Mode int

const (
	// ModeNo runs the machine without a user namespace (privileged).
	ModeNo Mode = iota
	// ModeYes takes the shift from the owner of the image's root
	// directory, with a range of 65536.
	ModeYes
	// ModePick allocates a free range (remembered per machine).
	ModePick
	// ModeIdentity maps IDs 0–65535 to themselves: isolation of
	// capabilities without a shift.
	ModeIdentity
	// ModeFixed uses the explicit Shift and Range.
	ModeFixed
)

// RangeSize is the default and the pick size of a range.
const RangeSize = 0x10000

// Users is a parsed --private-users= value.
type Users struct {
	Mode Mode
	// Shift and Range are set for ModeFixed (Range also for the others
	// that map IDs).
	Shift uint32
	Range uint32
}

// Ownership is a --private-users-ownership= value.
type Ownership int

const (
	// OwnershipDefault is unset: auto with pick, otherwise off.
	OwnershipDefault Ownership = iota
	// OwnershipOff leaves the image alone.
	OwnershipOff
	// OwnershipChown rewrites the image's ownership to the range.
	OwnershipChown
	// OwnershipMap mounts the image idmapped to the range.
	OwnershipMap
	// OwnershipAuto is map where the file system supports it, else chown
	// (and chown for an image that is already shifted).
	OwnershipAuto
)

// ownershipNames are the option spellings of the modes, by value (a
// static array: nothing to build at process start).
var ownershipNames = [...]string{OwnershipOff: "off", OwnershipChown: "chown", OwnershipMap: "map", OwnershipAuto: "auto"}

// String returns the option spelling of o.
func (o Ownership) String() string {
	if int(o) >= 0 && int(o) < len(ownershipNames) && ownershipNames[o] != "" {
		return ownershipNames[o]
	}
	return "default"
}

// ParseUsers parses a --private-users= value given on the command line.
// A string of digits is always a shift, never a boolean; other boolean
// spellings (yes, true, on, no, false, off, y, n, t, f) are booleans.
func ParseUsers(s string) (Users, error) {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		return parseShift(s)
	}
	return parseUsers(s)
}

// ParseUsersFile parses PrivateUsers= of a .nspawn file, where (as in
// systemd) "1" and "0" are booleans.
func ParseUsersFile(s string) (Users, error) {
	switch s {
	case "1":
		return Users{Mode: ModeYes, Range: RangeSize}, nil
	case "0":
		return Users{Mode: ModeNo}, nil
	}
	return ParseUsers(s)
}

func parseUsers(s string) (Users, error) {
	switch strings.ToLower(s) {
	case "yes", "y", "true", "t", "on":
		return Users{Mode: ModeYes, Range: RangeSize}, nil
	case "no", "n", "false", "f", "off":
		return Users{Mode: ModeNo}, nil
	case "pick":
		return Users{Mode: ModePick, Range: RangeSize}, nil
	case "identity":
		return Users{Mode: ModeIdentity, Range: RangeSize}, nil
	}
	return parseShift(s)
}

// parseShift parses "N" or "N:M".
func parseShift(s string) (Users, error) {
	shift, rng, hasRange := strings.Cut(s, ":")
	u := Users{Mode: ModeFixed, Range: RangeSize}
	n, err := parseID(shift)
	if err != nil {
		return Users{}, fmt.Errorf("%w: --private-users=%q: shift: %w", ErrInvalid, s, err)
	}
	u.Shift = n
	if hasRange {
		if u.Range, err = parseID(rng); err != nil {
			return Users{}, fmt.Errorf("%w: --private-users=%q: range: %w", ErrInvalid, s, err)
		}
	}
	if u.Range == 0 || uint64(u.Shift)+uint64(u.Range) > 0xFFFFFFFF {
		return Users{}, fmt.Errorf("%w: --private-users=%q: UID range cannot be empty or go beyond 4294967294", ErrInvalid, s)
	}
	return u, nil
}

// parseID parses a decimal ID: digits only, no sign, fits 32 bits, not the
// invalid ID 4294967295.
func parseID(s string) (uint32, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0xFFFFFFFF {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return uint32(n), nil
}

// ParseOwnership parses a --private-users-ownership= value.
func ParseOwnership(s string) (Ownership, error) {
	for o, name := range ownershipNames {
		if name != "" && name == s {
			return Ownership(o), nil
		}
	}
	return 0, fmt.Errorf("%w: --private-users-ownership=%q: want off, chown, map or auto", ErrInvalid, s)
}

// Effective returns the ownership mode that applies: an explicit one, else
// auto with pick and off otherwise (nspawn's default).
func Effective(u Users, o Ownership) Ownership {
	switch {
	case o != OwnershipDefault:
		return o
	case u.Mode == ModePick:
		return OwnershipAuto
	}
	return OwnershipOff
}

// Validate checks a combination of settings before anything is changed.
func Validate(u Users, o Ownership, readOnly, volatile bool) error {
	eff := Effective(u, o)
	switch {
	case u.Mode == ModeNo && eff != OwnershipOff && eff != OwnershipAuto:
		return fmt.Errorf("%w: --private-users-ownership=%s without a user namespace", ErrInvalid, eff)
	case eff == OwnershipChown && (readOnly || volatile):
		return fmt.Errorf("%w: --private-users-ownership=chown cannot be used with --read-only or --volatile", ErrInvalid)
	case eff == OwnershipChown && u.Mode == ModeFixed && (u.Shift%RangeSize != 0 || u.Range != RangeSize):
		return fmt.Errorf("%w: chown needs a 64Ki-aligned shift with a range of 65536, not %d:%d", ErrInvalid, u.Shift, u.Range)
	}
	return nil
}

// ParseBindOption parses one per-bind option: "idmap", "noidmap",
// "rootidmap" (nspawn's meanings), or "idmap=HOST:CONTAINER[:COUNT]",
// berth's mapping of COUNT (default 1) host IDs from HOST to the machine's
// IDs from CONTAINER. ok is false for options that are not about ID
// mapping (rbind, ro, ...), which the caller handles.
func ParseBindOption(opt string) (b idmap.Bind, ok bool, err error) {
	switch opt {
	case "idmap":
		return idmap.Bind{Kind: idmap.BindIdmap}, true, nil
	case "noidmap":
		return idmap.Bind{Kind: idmap.BindPlain}, true, nil
	case "rootidmap":
		return idmap.Bind{Kind: idmap.BindRootIdmap}, true, nil
	}
	spec, found := strings.CutPrefix(opt, "idmap=")
	if !found {
		return idmap.Bind{}, false, nil
	}
	f := strings.Split(spec, ":")
	if len(f) < 2 || len(f) > 3 {
		return idmap.Bind{}, true, fmt.Errorf("%w: bind option %q: want idmap=HOST:CONTAINER[:COUNT]", ErrInvalid, opt)
	}
	if len(f) == 2 {
		f = append(f, "1")
	}
	var n [3]uint32
	for i, s := range f {
		if n[i], err = parseID(s); err != nil {
			return idmap.Bind{}, true, fmt.Errorf("%w: bind option %q: %w", ErrInvalid, opt, err)
		}
	}
	if n[2] == 0 || uint64(n[0])+uint64(n[2]) > 0xFFFFFFFF || uint64(n[1])+uint64(n[2]) > RangeSize {
		return idmap.Bind{}, true, fmt.Errorf("%w: bind option %q: count out of range", ErrInvalid, opt)
	}
	return idmap.Bind{Kind: idmap.BindCustom, Host: n[0], Container: n[1], Size: n[2]}, true, nil
}

// FlagU returns the setting -U stands for: pick (with the default, auto,
// ownership) where the kernel has user namespaces, and, as systemd-nspawn
// does, silently no user namespace where it has not.
func FlagU(kernelHasUserNS bool) Users {
	if !kernelHasUserNS {
		return Users{Mode: ModeNo}
	}
	return Users{Mode: ModePick, Range: RangeSize}
}
