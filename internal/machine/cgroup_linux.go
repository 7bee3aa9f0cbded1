//go:build linux

package machine

import (
	"bytes"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/containercgroup"
	"github.com/berth-dev/berth/internal/kernel"
)

// maxKillPasses bounds how often Kill walks a machine's cgroup for
// processes forked while it signals.
const maxKillPasses = 8

// cgroups locates machines' cgroups in the cgroup2 hierarchy (pure v2, or
// the unified hierarchy of a hybrid host). A machine's cgroup is its
// leader's at registration, if that group is the machine's own: not the
// hierarchy's root and neither berthd's own group nor one of its
// ancestors (a leader started next to berthd shares its group, and
// killing that group would kill berthd).
type cgroups struct {
	// mnt is the cgroup2 mount point ("" without cgroup2).
	mnt string
	// pure is true on a pure cgroup v2 host, where cgroup.kill exists.
	pure bool
	// own is berthd's own cgroup2 path.
	own string
}

func newCgroups(root string) cgroups {
	mode, mnt := containercgroup.Detect(root)
	c := cgroups{mnt: mnt, pure: mode == containercgroup.Unified}
	if mnt != "" {
		c.own, _ = containercgroup.PathOf(os.Getpid())
	}
	return c
}

// of returns the cgroup2 path of pid, read from /proc ("" if unknown).
func (c cgroups) of(pid uint32) string {
	if c.mnt == "" {
		return ""
	}
	var buf [1024]byte
	return c.in(procCgroup(pid, buf[:]))
}

// in returns the cgroup2 path in a /proc/PID/cgroup file ("" if none):
// the path of its "0::" line, sharing no memory with cgroupFile.
func (c cgroups) in(cgroupFile []byte) string {
	if c.mnt == "" {
		return ""
	}
	for rest := cgroupFile; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		if p, ok := bytes.CutPrefix(line, []byte("0::")); ok {
			if !bytes.HasPrefix(p, []byte("/")) {
				return ""
			}
			return string(p)
		}
	}
	return ""
}

// machineGroup returns the cgroup of a new machine whose leader has the
// /proc/PID/cgroup file cgroupFile, or "" if the leader's group is not
// the machine's own.
func (c cgroups) machineGroup(cgroupFile []byte) string {
	g := c.in(cgroupFile)
	if g == "" || g == "/" || within(c.own, g) {
		return ""
	}
	return g
}

// within reports whether cgroup path p is g or below g.
func within(p, g string) bool {
	return p == g || strings.HasPrefix(p, strings.TrimSuffix(g, "/")+"/")
}

// ancestors returns g and each of its parents up to (not including) "/".
func ancestors(g string) []string {
	var out []string
	for g != "/" && g != "." && g != "" {
		out = append(out, g)
		g = path.Dir(g)
	}
	return out
}

// procs lists the PIDs in group g and every group below it.
func (c cgroups) procs(g string) []uint32 {
	var out []uint32
	_ = filepath.WalkDir(filepath.Join(c.mnt, g), func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return nil
		}
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.ParseUint(f, 10, 32); err == nil {
				out = append(out, uint32(n))
			}
		}
		return nil
	})
	return out
}

// kill writes cgroup.kill of g (pure v2, kernel 5.14+): SIGKILL to every
// process below g, atomically with forks.
func (c cgroups) kill(g string) error {
	if !c.pure {
		return errors.ErrUnsupported
	}
	f := filepath.Join(c.mnt, g, "cgroup.kill")
	return kernel.Retry("write", func() error { return os.WriteFile(f, []byte("1"), 0) })
}

// signalGroup signals every process in g and below, each through its own
// pidfd after checking it is still in g, and walks the group again for
// processes forked meanwhile; done holds the PIDs already signalled.
func (c cgroups) signalGroup(g string, sig unix.Signal, done map[uint32]bool) {
	for range maxKillPasses {
		more := false
		for _, pid := range c.procs(g) {
			if done[pid] {
				continue
			}
			done[pid] = true
			more = true
			c.signalIn(pid, g, sig)
		}
		if !more {
			return
		}
	}
}

// signalIn signals pid if, once held by a pidfd, it is in group g.
func (c cgroups) signalIn(pid uint32, g string, sig unix.Signal) {
	p, err := OpenProcess(pid)
	if err != nil {
		return
	}
	defer p.Close()
	if within(c.of(pid), g) && p.Alive() {
		_ = p.Signal(sig)
	}
}
