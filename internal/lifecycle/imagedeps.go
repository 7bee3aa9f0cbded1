package lifecycle

import (
	"bufio"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/unitgen"
)

// diskImageUnits are the template's dependencies that only a disk image
// (raw or block) needs: the loop driver for its loop device and
// device-mapper for its verity or encrypted partitions.
var diskImageUnits = []string{"modprobe@loop.service", "modprobe@dm_mod.service"}

// systemdMounts is the mount table of PID 1, the mounts systemd knows.
const systemdMounts = "/proc/1/mountinfo"

// fitImage fits a unit generated from the template to the machine's
// image as it is now, so systemd starts it with fewer jobs and units:
//   - a directory or subvolume image's unit leaves diskImageUnits out of
//     Wants= and After= (a disk image's keeps them);
//   - each RequiresMountsFor= path becomes the mount point it is on
//     (mounts lists the mount points), so systemd does not load a unit
//     for each of the path's prefixes that is no mount point, while the
//     machine still needs, and stops before, every mount its image is
//     on. The image is there already: a mount that would cover it now
//     is none of the machine's.
//
// A machine started at boot from the enabled template keeps the
// template's lists.
func fitImage(u unitgen.Unit, img images.Image, mounts []string) unitgen.Unit {
	if img.Type != images.Raw && img.Type != images.Block {
		drop := func(units []string) []string {
			return slices.DeleteFunc(slices.Clone(units), func(s string) bool { return slices.Contains(diskImageUnits, s) })
		}
		u.Wants, u.After = drop(u.Wants), drop(u.After)
	}
	if mounts != nil {
		narrowed := make([]string, 0, len(u.RequiresMountsFor))
		for _, p := range u.RequiresMountsFor {
			if m := mountOf(p, mounts); !slices.Contains(narrowed, m) {
				narrowed = append(narrowed, m)
			}
		}
		u.RequiresMountsFor = narrowed
	}
	return u
}

// mountOf returns the deepest of mounts that is p or a directory above
// it; "/" if there is none. p is an absolute path.
func mountOf(p string, mounts []string) string {
	p = path.Clean(p)
	best := "/"
	for _, m := range mounts {
		if len(m) > len(best) && (p == m || strings.HasPrefix(p, m+"/")) {
			best = m
		}
	}
	return best
}

// mountPoints reads the mount points of the mount table file (in the
// format of /proc/PID/mountinfo); nil if it cannot be read.
func mountPoints(file string) []string {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 {
			points = append(points, unescapeMount(fields[4]))
		}
	}
	if sc.Err() != nil {
		return nil
	}
	return points
}

// unescapeMount undoes the kernel's octal escapes (\040 for a space) in a
// mount table field.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
