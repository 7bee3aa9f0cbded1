package spawn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// stagePlan is everything the stage (stage.c) needs to finish the
// container and execute the payload, computed by the spawner: the stage
// runs no Go and decides nothing it can be told.
type stagePlan struct {
	// Flags are flag* bits.
	Flags uint32
	// Hostname is set in the container's UTS namespace.
	Hostname string
	// Argv is the payload's path, then its arguments from argv[1] on.
	Argv []string
	// Env is the payload's environment.
	Env []string
	// Chdir is the payload's working directory (empty: /); with
	// flagChdirFallback a failure goes to / instead.
	Chdir string
	// UID, GID and Groups are the payload's identity.
	UID, GID uint32
	Groups   []uint32
	// Caps is the bounding set kept and Ambient the ambient set.
	Caps, Ambient uint64
	// Rlimits are the resource limits to set.
	Rlimits []stageRlimit
	// OOMScoreAdjust, if set, is written to oom_score_adj.
	OOMScoreAdjust *int32
	// Affinity is the CPU mask (empty: unchanged).
	Affinity []byte
	// Personality, if set, is the execution domain.
	Personality *uint32
	// Filter is the seccomp program (8 bytes per instruction; empty:
	// none).
	Filter []byte
}

// stageRlimit is one resource limit.
type stageRlimit struct {
	Resource   uint32
	Soft, Hard uint64
}

// encode lays p out in the stage's wire format (stage.h).
func (p *stagePlan) encode() ([]byte, error) {
	var e stageEncoder
	e.b = append(e.b, stageMagic...)
	e.u32(tagFlags, p.Flags)
	e.str(tagHostname, p.Hostname)
	for _, a := range p.Argv {
		e.str(tagArg, a)
	}
	for _, v := range p.Env {
		e.str(tagEnv, v)
	}
	if p.Chdir != "" {
		e.str(tagChdir, p.Chdir)
	}
	user := binary.NativeEndian.AppendUint32(nil, p.UID)
	user = binary.NativeEndian.AppendUint32(user, p.GID)
	for _, g := range p.Groups {
		user = binary.NativeEndian.AppendUint32(user, g)
	}
	e.rec(tagUser, user)
	e.rec(tagCaps, binary.NativeEndian.AppendUint64(binary.NativeEndian.AppendUint64(nil, p.Caps), p.Ambient))
	for _, l := range p.Rlimits {
		r := binary.NativeEndian.AppendUint32(nil, l.Resource)
		r = binary.NativeEndian.AppendUint64(r, l.Soft)
		e.rec(tagRlimit, binary.NativeEndian.AppendUint64(r, l.Hard))
	}
	if p.OOMScoreAdjust != nil {
		e.u32(tagOOM, uint32(*p.OOMScoreAdjust))
	}
	if len(p.Affinity) > 0 {
		e.rec(tagAffinity, p.Affinity)
	}
	if p.Personality != nil {
		e.u32(tagPersonality, *p.Personality)
	}
	if len(p.Filter) > 0 {
		e.rec(tagSeccomp, p.Filter)
	}
	if e.err != nil {
		return nil, e.err
	}
	if len(e.b) > stageMaxMsg {
		return nil, fmt.Errorf("stage configuration: %d bytes, more than %d", len(e.b), stageMaxMsg)
	}
	return e.b, nil
}

// stageEncoder appends records; the first error sticks.
type stageEncoder struct {
	b   []byte
	err error
}

func (e *stageEncoder) rec(tag int, data []byte) {
	if len(data) > math.MaxUint32 {
		e.err = fmt.Errorf("stage configuration: record %d too long", tag)
		return
	}
	e.b = append(e.b, byte(tag))
	e.b = binary.NativeEndian.AppendUint32(e.b, uint32(len(data)))
	e.b = append(e.b, data...)
}

func (e *stageEncoder) u32(tag int, v uint32) {
	e.rec(tag, binary.NativeEndian.AppendUint32(nil, v))
}

// str adds a string with its terminating NUL; the stage hands it to the
// kernel as a C string, so it may hold no other.
func (e *stageEncoder) str(tag int, s string) {
	if strings.IndexByte(s, 0) >= 0 {
		e.err = errors.Join(e.err, fmt.Errorf("stage configuration: NUL byte in %q", s))
		return
	}
	e.rec(tag, append([]byte(s), 0))
}
