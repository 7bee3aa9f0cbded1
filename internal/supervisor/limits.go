package supervisor

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/unitgen"
)

// cpuPeriod is the CFS period berth sets quotas against, systemd's
// default (100 ms).
const cpuPeriod = 100000

// fileWrite is one cgroup attribute to write.
type fileWrite struct {
	// Name is the attribute file name, e.g. "memory.max".
	Name string
	// Value is the text written.
	Value string
}

// uses returns the v1 controllers limits need.
func uses(l unitgen.Limits) limitsUse {
	return limitsUse{
		"memory": l.MemoryMax != 0, "pids": l.TasksMax != 0,
		"cpu": l.CPUQuota != 0 || l.CPUWeight != 0, "blkio": l.IOWeight != 0,
	}
}

// v2Controllers returns the controllers the unified hierarchy must enable
// for l, in cgroup.subtree_control spelling.
func v2Controllers(l unitgen.Limits) []string {
	var cs []string
	for _, c := range []struct {
		name string
		on   bool
	}{{"memory", l.MemoryMax != 0}, {"pids", l.TasksMax != 0}, {"cpu", l.CPUQuota != 0 || l.CPUWeight != 0}, {"io", l.IOWeight != 0}} {
		if c.on {
			cs = append(cs, c.name)
		}
	}
	return cs
}

// limitFiles returns the attribute writes that apply l in a hierarchy.
func limitFiles(h hierarchy, l unitgen.Limits) []fileWrite {
	if h.V2 {
		return v2Limits(l)
	}
	return v1Limits(h.Controller, l)
}

func v2Limits(l unitgen.Limits) []fileWrite {
	var ws []fileWrite
	if l.MemoryMax != 0 {
		ws = append(ws, fileWrite{"memory.max", maxString(l.MemoryMax)})
	}
	if l.TasksMax != 0 {
		ws = append(ws, fileWrite{"pids.max", maxString(l.TasksMax)})
	}
	if l.CPUQuota != 0 {
		ws = append(ws, fileWrite{"cpu.max", strconv.FormatUint(l.CPUQuota*cpuPeriod/100, 10) + " " + strconv.Itoa(cpuPeriod)})
	}
	if l.CPUWeight != 0 {
		ws = append(ws, fileWrite{"cpu.weight", strconv.FormatUint(l.CPUWeight, 10)})
	}
	if l.IOWeight != 0 {
		ws = append(ws, fileWrite{"io.weight", "default " + strconv.FormatUint(l.IOWeight, 10)})
	}
	return ws
}

func v1Limits(controller string, l unitgen.Limits) []fileWrite {
	switch {
	case controller == "memory" && l.MemoryMax != 0:
		v := "-1"
		if l.MemoryMax != unitgen.Infinity {
			v = strconv.FormatUint(l.MemoryMax, 10)
		}
		return []fileWrite{{"memory.limit_in_bytes", v}}
	case controller == "pids" && l.TasksMax != 0:
		return []fileWrite{{"pids.max", maxString(l.TasksMax)}}
	case controller == "cpu":
		var ws []fileWrite
		if l.CPUQuota != 0 {
			ws = append(ws, fileWrite{"cpu.cfs_period_us", strconv.Itoa(cpuPeriod)},
				fileWrite{"cpu.cfs_quota_us", strconv.FormatUint(l.CPUQuota*cpuPeriod/100, 10)})
		}
		if l.CPUWeight != 0 {
			// systemd's mapping: weight 100 is 1024 shares.
			ws = append(ws, fileWrite{"cpu.shares", strconv.FormatUint(max(2, l.CPUWeight*1024/100), 10)})
		}
		return ws
	case controller == "blkio" && l.IOWeight != 0:
		// blkio.weight spans 10..1000 where io.weight spans 1..10000.
		return []fileWrite{{"blkio.weight", strconv.FormatUint(min(1000, max(10, l.IOWeight/10)), 10)}}
	}
	return nil
}

func maxString(v uint64) string {
	if v == unitgen.Infinity {
		return "max"
	}
	return strconv.FormatUint(v, 10)
}

// parentsOf returns root and the directories between root and dir
// (dir excluded), outermost first: the groups whose subtree_control must
// enable a controller for dir to use it.
func parentsOf(root, dir string) []string {
	var out []string
	for d := filepath.Dir(dir); len(d) > len(root) && strings.HasPrefix(d, root+"/"); d = filepath.Dir(d) {
		out = append([]string{d}, out...)
	}
	return append([]string{root}, out...)
}

// filterControllers keeps the controllers in avail.
func filterControllers(cs []string, avail map[string]bool) []string {
	var out []string
	for _, c := range cs {
		if avail[c] {
			out = append(out, c)
		}
	}
	return out
}

// filterWrites keeps the writes whose controller ("memory" of
// "memory.max") is in avail.
func filterWrites(ws []fileWrite, avail map[string]bool) []fileWrite {
	var out []fileWrite
	for _, w := range ws {
		c, _, _ := strings.Cut(w.Name, ".")
		if avail[c] {
			out = append(out, w)
		}
	}
	return out
}
