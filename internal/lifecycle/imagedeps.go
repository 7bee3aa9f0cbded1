package lifecycle

import (
	"errors"
	"path"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/unitgen"
)

// diskImageUnits are the template's dependencies that only a disk image
// (raw or block) needs: the loop driver for its loop device and
// device-mapper for its verity or encrypted partitions.
var diskImageUnits = []string{"modprobe@loop.service", "modprobe@dm_mod.service"}

// systemdRoot is PID 1's root directory: paths below it are resolved in
// the mount namespace of systemd.
const systemdRoot = "/proc/1/root"

// fitImage fits a unit generated from the template to the machine's
// image as it is now, so systemd starts it with fewer jobs and units:
//   - a directory or subvolume image's unit leaves diskImageUnits out of
//     Wants= and After= (a disk image's keeps them);
//   - each RequiresMountsFor= path becomes the mount point it is on
//     (mountOf finds it; a nil mountOf, or its false, keeps the path),
//     so systemd does not load a unit for each of the path's prefixes
//     that is no mount point, while the machine still needs, and stops
//     before, every mount its image is on. The image is there already:
//     a mount that would cover it now is none of the machine's.
//
// A machine started at boot from the enabled template keeps the
// template's lists.
func fitImage(u unitgen.Unit, img images.Image, mountOf func(p string) (string, bool)) unitgen.Unit {
	if img.Type != images.Raw && img.Type != images.Block {
		drop := func(units []string) []string {
			return slices.DeleteFunc(slices.Clone(units), func(s string) bool { return slices.Contains(diskImageUnits, s) })
		}
		u.Wants, u.After = drop(u.Wants), drop(u.After)
	}
	if mountOf == nil {
		return u
	}
	narrowed := make([]string, 0, len(u.RequiresMountsFor))
	for _, p := range u.RequiresMountsFor {
		m, ok := mountOf(p)
		if !ok {
			m = p
		}
		if !slices.Contains(narrowed, m) {
			narrowed = append(narrowed, m)
		}
	}
	u.RequiresMountsFor = narrowed
	return u
}

// mountPointOf returns the mount point that the absolute path p is on in
// the mount namespace of root (a /proc/PID/root; "" for berthd's own): p
// or the nearest directory above it that is the root of a mount, "/" if
// none is. A part of p that does not exist is skipped; ok is false if the
// kernel cannot tell mount roots (before Linux 5.8) or a part of p cannot
// be looked up.
func mountPointOf(root, p string) (string, bool) {
	for q := path.Clean(p); q != "/"; q = path.Dir(q) {
		var st unix.Statx_t
		err := unix.Statx(unix.AT_FDCWD, root+q, unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_DONT_SYNC, 0, &st)
		switch {
		case errors.Is(err, unix.ENOENT):
		case err != nil || st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0:
			return "", false
		case st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0:
			return q, true
		}
	}
	return "/", true
}
