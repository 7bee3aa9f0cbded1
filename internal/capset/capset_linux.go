package capset

import (
	"fmt"

	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// Apply drops every capability outside keep from the calling thread's
// bounding set and sets its inheritable set to keep (limited to what the
// thread permits), as systemd-nspawn does before it executes the payload.
// Capabilities the kernel does not know are skipped. It needs CAP_SETPCAP
// and runs on the thread that will call execve.
func Apply(keep Set) error {
	last, err := lastCap()
	if err != nil {
		return err
	}
	for n := 0; n <= last; n++ {
		if keep.Has(n) {
			continue
		}
		err := kernel.Retry("prctl PR_CAPBSET_DROP", func() error {
			return unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(n), 0, 0, 0)
		})
		if err != nil {
			return fmt.Errorf("drop capability %d: %w", n, err)
		}
	}
	return SetInheritable(keep)
}

// KeepCaps makes the calling thread keep its permitted capabilities when
// it changes all its user IDs from 0 to others (PR_SET_KEEPCAPS, cleared
// again by execve), so RaiseAmbient can follow a switch to an
// unprivileged user. It runs on the thread that will call execve.
func KeepCaps() error {
	return kernel.Retry("prctl PR_SET_KEEPCAPS", func() error {
		return unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0)
	})
}

// RaiseAmbient raises set in the calling thread's ambient set, so a
// program it executes starts with these capabilities permitted and
// effective whatever its user. Each capability must be permitted and
// inheritable already (Apply makes the kept ones inheritable). It runs
// on the thread that will call execve, after any change of user.
func RaiseAmbient(set Set) error {
	for n := 0; n <= Last; n++ {
		if !set.Has(n) {
			continue
		}
		err := kernel.Retry("prctl PR_CAP_AMBIENT_RAISE", func() error {
			return unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(n), 0, 0)
		})
		if err != nil {
			return fmt.Errorf("raise ambient capability %s: %w", Set(1<<n), err)
		}
	}
	return nil
}

// SetInheritable sets the calling thread's inheritable set to keep (limited
// to what the thread permits). systemd-nspawn leaves a payload that runs as
// another user than root only its ambient capabilities there. It runs on
// the thread that will call execve.
func SetInheritable(keep Set) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := kernel.Retry("capget", func() error { return unix.Capget(&hdr, &data[0]) }); err != nil {
		return err
	}
	data[0].Inheritable = uint32(keep) & data[0].Permitted
	data[1].Inheritable = uint32(keep>>32) & data[1].Permitted
	return kernel.Retry("capset", func() error { return unix.Capset(&hdr, &data[0]) })
}

// lastCap returns the highest capability number the kernel knows.
func lastCap() (int, error) {
	for n := Last; n >= 0; n-- {
		err := unix.Prctl(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0)
		if err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("capset: no capability readable")
}
