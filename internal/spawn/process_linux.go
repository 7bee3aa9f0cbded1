package spawn

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/nspawnsettings"
	"github.com/berth-dev/berth/internal/seccomp"
	"golang.org/x/sys/unix"
)

// Personality values (linux/personality.h).
const (
	perLinux   = 0x0000
	perLinux32 = 0x0008
)

// applyProcess applies the .nspawn process settings (resource limits,
// personality, OOM score adjustment, CPU affinity, and last the seccomp
// filter of a system call deny list and SuppressSync=) to the stage, from which the payload inherits them. It
// runs on the stage's locked thread, in the container's /proc, before
// capabilities are dropped (raising a hard limit, lowering the OOM score
// and installing a filter need them). The stage's own last steps
// (capabilities, user switch, execve) pass the filter too, so a deny
// list naming them stops the start.
func applyProcess(p nspawnsettings.Process) error {
	for res, l := range p.Limits {
		if l != nil {
			if err := setRlimit(res, *l); err != nil {
				return err
			}
		}
	}
	if p.OOMScoreAdjust != nil {
		v := strconv.Itoa(*p.OOMScoreAdjust)
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(v), 0); err != nil {
			return fmt.Errorf("set OOM score adjustment %s: %w", v, err)
		}
	}
	if len(p.CPUAffinity) > 0 {
		if err := setAffinity(p.CPUAffinity); err != nil {
			return err
		}
	}
	if p.Personality != "" {
		if err := setPersonality(p.Personality); err != nil {
			return err
		}
	}
	return installFilter(p)
}

// installFilter installs the seccomp filter of the deny list and
// SuppressSync=, if either asks for one; the deny list wins.
func installFilter(p nspawnsettings.Process) error {
	if len(p.SystemCallDeny) == 0 && !p.SuppressSync {
		return nil
	}
	rules, err := seccomp.Rules(p.SystemCallDeny)
	if err != nil {
		return fmt.Errorf("system call filter: %w", err)
	}
	if p.SuppressSync {
		sync, err := seccomp.SuppressSync()
		if err != nil {
			return fmt.Errorf("suppress sync: %w", err)
		}
		rules = append(rules, sync...)
	}
	return seccomp.Install(seccomp.Program(rules))
}

// setRlimit sets one resource limit of the process. It goes through
// package syscall so that the Go runtime does not put its own
// RLIMIT_NOFILE back when the payload is executed.
func setRlimit(res int, l nspawnsettings.Rlimit) error {
	r := syscall.Rlimit{Cur: l.Soft, Max: l.Hard}
	if err := kernel.Retry("setrlimit", func() error { return syscall.Setrlimit(res, &r) }); err != nil {
		return fmt.Errorf("set resource limit %d to %s: %w", res, l, err)
	}
	return nil
}

// setAffinity restricts the calling thread, which executes the payload,
// to cpus.
func setAffinity(cpus nspawnsettings.CPUSet) error {
	var set unix.CPUSet
	for _, c := range cpus {
		if c >= len(set)*64 {
			return fmt.Errorf("set CPU affinity %s: CPU %d beyond %d", cpus, c, len(set)*64-1)
		}
		set.Set(c)
	}
	if err := kernel.Retry("sched_setaffinity", func() error { return unix.SchedSetaffinity(0, &set) }); err != nil {
		return fmt.Errorf("set CPU affinity %s: %w", cpus, err)
	}
	return nil
}

// setPersonality sets the execution domain of the calling thread for the
// architecture name arch: the host's own, or its 32-bit companion.
func setPersonality(arch string) error {
	per := uintptr(perLinux)
	if arch != nativePersonality() {
		per = perLinux32
	}
	err := kernel.Retry("personality", func() error {
		_, _, errno := unix.RawSyscall(unix.SYS_PERSONALITY, per, 0, 0)
		if errno != 0 {
			return errno
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set personality %s: %w", arch, err)
	}
	return nil
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
