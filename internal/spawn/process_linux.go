package spawn

import (
	"encoding/binary"
	"fmt"
	"runtime"

	"github.com/berth-dev/berth/internal/nspawnsettings"
	"github.com/berth-dev/berth/internal/seccomp"
)

// Personality values (linux/personality.h).
const (
	perLinux   = 0x0000
	perLinux32 = 0x0008
)

// maxCPUs bounds the CPU affinity mask (stage.h's BERTH_MAX_AFFINITY).
const maxCPUs = 1024

// addProcess adds the .nspawn process settings to the plan: resource
// limits, personality, OOM score adjustment, CPU affinity, and the seccomp
// filter of a system call deny list and SuppressSync=. The stage applies
// them before it drops capabilities (raising a hard limit, lowering the
// OOM score and installing a filter need them), the filter last; its own
// last steps (capabilities, user switch, execve) pass the filter too, so
// a deny list naming them stops the start.
func (p *stagePlan) addProcess(s nspawnsettings.Process) error {
	for res, l := range s.Limits {
		if l != nil {
			p.Rlimits = append(p.Rlimits, stageRlimit{Resource: uint32(res), Soft: l.Soft, Hard: l.Hard})
		}
	}
	if s.OOMScoreAdjust != nil {
		v := int32(*s.OOMScoreAdjust)
		p.OOMScoreAdjust = &v
	}
	if len(s.CPUAffinity) > 0 {
		mask, err := affinityMask(s.CPUAffinity)
		if err != nil {
			return err
		}
		p.Affinity = mask
	}
	if s.Personality != "" {
		per := uint32(perLinux)
		if s.Personality != nativePersonality() {
			per = perLinux32
		}
		p.Personality = &per
	}
	filter, err := filterOf(s)
	p.Filter = filter
	return err
}

// affinityMask turns cpus into the kernel's CPU mask.
func affinityMask(cpus nspawnsettings.CPUSet) ([]byte, error) {
	var mask []byte
	for _, c := range cpus {
		if c < 0 || c >= maxCPUs {
			return nil, fmt.Errorf("set CPU affinity %s: CPU %d beyond %d", cpus, c, maxCPUs-1)
		}
		for len(mask) < (c/64+1)*8 {
			mask = append(mask, 0)
		}
		mask[c/8] |= 1 << (c % 8)
	}
	return mask, nil
}

// filterOf compiles the seccomp filter of the deny list and SuppressSync=,
// if either asks for one (the deny list wins), into the kernel's struct
// sock_filter array.
func filterOf(p nspawnsettings.Process) ([]byte, error) {
	if len(p.SystemCallDeny) == 0 && !p.SuppressSync {
		return nil, nil
	}
	rules, err := seccomp.Rules(p.SystemCallDeny)
	if err != nil {
		return nil, fmt.Errorf("system call filter: %w", err)
	}
	if p.SuppressSync {
		sync, err := seccomp.SuppressSync()
		if err != nil {
			return nil, fmt.Errorf("suppress sync: %w", err)
		}
		rules = append(rules, sync...)
	}
	var b []byte
	for _, f := range seccomp.Program(rules) {
		b = binary.NativeEndian.AppendUint16(b, f.Code)
		b = append(b, f.Jt, f.Jf)
		b = binary.NativeEndian.AppendUint32(b, f.K)
	}
	return b, nil
}

// nativePersonality is the Personality= name of the host's own
// architecture.
func nativePersonality() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86-64"
	case "386":
		return "x86"
	case "ppc64le":
		return "ppc64-le"
	}
	return runtime.GOARCH
}
