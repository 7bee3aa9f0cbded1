package chownshift

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"strings"
)

const (
	// RangeSize is the number of IDs a shift covers.
	RangeSize = 0x10000
	// BusyBase is the shift the top directory carries while a shift runs.
	BusyBase uint32 = 0xFFFE0000
	// maxShift is the highest usable shift: the busy range and the range
	// holding the invalid ID 0xFFFFFFFF are reserved.
	maxShift uint32 = 0xFFFD0000
)

var (
	// ErrInvalid is returned for an unusable target shift or a top
	// directory whose owner and group disagree about the current shift.
	ErrInvalid = errors.New("invalid shift")
	// ErrFilesystem is returned when the tree is on a file system that must
	// not be shifted (proc, sysfs, cgroup, devpts).
	ErrFilesystem = errors.New("file system cannot be shifted")
	// errMalformed marks an ACL or capability value that cannot be parsed.
	errMalformed = errors.New("malformed xattr value")
)

// Progress is reported while a shift runs.
type Progress struct {
	// Done is the number of entries processed so far.
	Done uint64
	// Estimate is the number of inodes in use on the file system, an upper
	// bound for the size of the tree (0 if unknown).
	Estimate uint64
}

// Options tune Shift.
type Options struct {
	// Progress, if set, is called every few thousand entries and once at
	// the end, from the goroutine calling Shift.
	Progress func(Progress)
	// procXattrs forces the /proc/self/fd fallback for extended
	// attributes that kernels before 6.13 use (for tests).
	procXattrs bool
	// afterChown, if set, is called with an entry's path right after its
	// chown (for tests that kill a shift there).
	afterChown func(path string)
}

// Result says what Shift did.
type Result struct {
	// From is the shift the tree had before: BusyBase when an
	// interrupted shift was completed.
	From uint32
	// Changed is false when the tree already had the target shift.
	Changed bool
	// Resumed is true when an interrupted earlier shift was completed.
	Resumed bool
	// Entries is the number of entries processed.
	Entries uint64
}

// State is the ownership state of a tree's top directory.
type State struct {
	// Shift is the tree's shift (owner & 0xFFFF0000).
	Shift uint32
	// Busy is true when a shift was interrupted and must be completed.
	Busy bool
}

// validTarget checks that to is a usable shift.
func validTarget(to uint32) error {
	if to%RangeSize != 0 || to > maxShift {
		return fmt.Errorf("%w: %#x is not a 64Ki-aligned shift below %#x", ErrInvalid, to, BusyBase)
	}
	return nil
}

// stateOf derives the tree state from the top directory's owner and group.
func stateOf(uid, gid uint32) (State, error) {
	if uid&^0xFFFF != gid&^0xFFFF {
		return State{}, fmt.Errorf("%w: top directory owner %d and group %d are in different ranges", ErrInvalid, uid, gid)
	}
	return State{Shift: uid &^ 0xFFFF, Busy: uid&^0xFFFF == BusyBase}, nil
}

// shiftID moves id into the range starting at to.
func shiftID(id, to uint32) uint32 { return id&0xFFFF | to }

const (
	aclVersion   = 2
	aclHeader    = 4
	aclEntry     = 8
	aclTagUser   = 0x02
	aclTagGroup  = 0x08
	capRevMask   = 0xFF000000
	capRev2      = 0x02000000
	capRev3      = 0x03000000
	capV2Size    = 20
	capV3Size    = 24
	capRootIDOff = 20
)

// shiftACL returns a copy of the POSIX ACL xattr value b with the IDs of
// its named user and group entries shifted to to.
func shiftACL(b []byte, to uint32) ([]byte, error) {
	if len(b) < aclHeader || (len(b)-aclHeader)%aclEntry != 0 ||
		binary.LittleEndian.Uint32(b) != aclVersion {
		return nil, fmt.Errorf("acl: %w", errMalformed)
	}
	out := append([]byte(nil), b...)
	for off := aclHeader; off < len(out); off += aclEntry {
		tag := binary.LittleEndian.Uint16(out[off:])
		if tag == aclTagUser || tag == aclTagGroup {
			id := binary.LittleEndian.Uint32(out[off+4:])
			binary.LittleEndian.PutUint32(out[off+4:], shiftID(id, to))
		}
	}
	return out, nil
}

// shiftCaps returns a copy of the security.capability value b with the root
// ID of a revision 3 value shifted to to. Revision 2 values are returned
// unchanged.
func shiftCaps(b []byte, to uint32) ([]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("capability: %w", errMalformed)
	}
	out := append([]byte(nil), b...)
	switch rev := binary.LittleEndian.Uint32(b) & capRevMask; {
	case rev == capRev2 && len(b) == capV2Size:
	case rev == capRev3 && len(b) == capV3Size:
		id := binary.LittleEndian.Uint32(b[capRootIDOff:])
		binary.LittleEndian.PutUint32(out[capRootIDOff:], shiftID(id, to))
	default:
		return nil, fmt.Errorf("capability revision %#x size %d: %w", rev, len(b), errMalformed)
	}
	return out, nil
}

// pending is the journal entry of one file whose chown is about to clear
// what the shift must restore: the setuid/setgid bits (in mode) and the
// file capabilities (caps, already shifted). It is stored on the top
// directory while that file is changed, so a shift killed between the
// chown and the restore is repaired by the next run.
type pending struct {
	path string
	mode uint32
	caps []byte
}

const journalMagic = "berth-shift-v1\x00"

// marshal encodes p: magic, mode and caps length (little-endian 32 bits
// each), caps, path.
func (p pending) marshal() []byte {
	b := append([]byte(journalMagic), make([]byte, 8)...)
	binary.LittleEndian.PutUint32(b[len(journalMagic):], p.mode)
	binary.LittleEndian.PutUint32(b[len(journalMagic)+4:], uint32(len(p.caps)))
	return append(append(b, p.caps...), p.path...)
}

// parsePending decodes a journal entry, refusing paths that are not
// clean, relative and below the top directory.
func parsePending(b []byte) (pending, error) {
	h := len(journalMagic) + 8
	if len(b) < h || string(b[:len(journalMagic)]) != journalMagic {
		return pending{}, fmt.Errorf("journal: %w", errMalformed)
	}
	p := pending{mode: binary.LittleEndian.Uint32(b[len(journalMagic):])}
	n := binary.LittleEndian.Uint32(b[len(journalMagic)+4:])
	if uint64(n) > uint64(len(b)-h) || p.mode&^07777 != 0 {
		return pending{}, fmt.Errorf("journal: %w", errMalformed)
	}
	p.caps = b[h : h+int(n)]
	p.path = string(b[h+int(n):])
	if p.path == "" || path.IsAbs(p.path) || path.Clean(p.path) != p.path ||
		p.path == ".." || strings.HasPrefix(p.path, "../") || strings.ContainsRune(p.path, 0) {
		return pending{}, fmt.Errorf("journal path %q: %w", p.path, errMalformed)
	}
	if len(p.caps) == 0 {
		p.caps = nil
	}
	return p, nil
}
