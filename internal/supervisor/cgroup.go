package supervisor

import (
	"fmt"
	"path/filepath"
	"strings"
)

// hierarchy is one mounted cgroup hierarchy the supervisor places machines
// in.
type hierarchy struct {
	// Root is the mount point, e.g. /sys/fs/cgroup/unified.
	Root string
	// V2 is true for the unified hierarchy.
	V2 bool
	// Controller names the v1 controller ("memory", "pids", "cpu") or
	// "" for the unified hierarchy and v1 name=systemd.
	Controller string
}

// layout lists the hierarchies of a host: pure v2, hybrid (v2 unified
// plus v1 named systemd and v1 controllers) or legacy v1. exists tells
// whether a path exists.
func layout(cgroupRoot string, exists func(string) bool) ([]hierarchy, error) {
	j := func(p ...string) string { return filepath.Join(append([]string{cgroupRoot}, p...)...) }
	if exists(j("cgroup.controllers")) {
		return []hierarchy{{Root: cgroupRoot, V2: true}}, nil
	}
	var hs []hierarchy
	if exists(j("unified", "cgroup.controllers")) {
		hs = append(hs, hierarchy{Root: j("unified"), V2: true})
	}
	if exists(j("systemd", "cgroup.procs")) {
		hs = append(hs, hierarchy{Root: j("systemd")})
	}
	if len(hs) == 0 {
		return nil, fmt.Errorf("cgroup layout of %s: %w", cgroupRoot, ErrNoCgroups)
	}
	for _, c := range []string{"memory", "pids", "cpu", "blkio"} {
		if exists(j(c, "cgroup.procs")) {
			hs = append(hs, hierarchy{Root: j(c), Controller: c})
		}
	}
	return hs, nil
}

// slicePath returns the cgroup path of a slice unit, as systemd nests
// them: "a-b.slice" is "a.slice/a-b.slice"; "" and "-.slice" are the root.
func slicePath(slice string) (string, error) {
	if slice == "" || slice == "-.slice" {
		return "", nil
	}
	base, ok := strings.CutSuffix(slice, ".slice")
	if !ok || base == "" || strings.ContainsAny(base, "/") || strings.HasPrefix(base, "-") ||
		strings.HasSuffix(base, "-") || strings.Contains(base, "--") {
		return "", fmt.Errorf("slice %q: %w", slice, ErrBadUnit)
	}
	var parts []string
	prefix := ""
	for _, p := range strings.Split(base, "-") {
		prefix += p
		parts = append(parts, prefix+".slice")
		prefix += "-"
	}
	return filepath.Join(parts...), nil
}

// unitDirs returns the directories of unit's cgroup in every hierarchy
// that need: the unified and named hierarchies always, a v1 controller
// only when lim uses it.
func unitDirs(hs []hierarchy, slice, unit string, lim limitsUse) ([]string, error) {
	sp, err := slicePath(slice)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, h := range hs {
		if h.Controller == "" || lim[h.Controller] {
			dirs = append(dirs, filepath.Join(h.Root, sp, unit))
		}
	}
	return dirs, nil
}

// limitsUse tells which v1 controllers a unit's limits need.
type limitsUse map[string]bool
