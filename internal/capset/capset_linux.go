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
	return setInheritable(keep)
}

// setInheritable sets the inheritable set to keep ∩ permitted.
func setInheritable(keep Set) error {
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
