package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/unitgen"
)

// group is one machine's cgroup, in every hierarchy it lives in.
type group struct {
	// Dirs are the group's directories; the unified one (if any) first.
	Dirs []string
	// hs are the hierarchies, matching Dirs by index.
	hs []hierarchy
}

func pathExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// newGroup returns the group for unit, not yet created.
func newGroup(cgroupRoot, slice, unit string, l unitgen.Limits) (*group, error) {
	hs, err := layout(cgroupRoot, pathExists)
	if err != nil {
		return nil, err
	}
	use := uses(l)
	g := &group{}
	dirs, err := unitDirs(hs, slice, unit, use)
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		if h.Controller == "" || use[h.Controller] {
			g.hs = append(g.hs, h)
		}
	}
	g.Dirs = dirs
	return g, nil
}

// create makes the group's directories and applies l.
func (g *group) create(l unitgen.Limits) error {
	for i, d := range g.Dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create cgroup: %w", err)
		}
		h := g.hs[i]
		writes := limitFiles(h, l)
		if h.V2 {
			// On a hybrid host the controllers are bound to v1
			// hierarchies; the unified one applies only what it has.
			avail := available(h.Root)
			if err := enableControllers(h.Root, d, filterControllers(v2Controllers(l), avail)); err != nil {
				return err
			}
			writes = filterWrites(writes, avail)
		}
		for _, w := range writes {
			if err := os.WriteFile(filepath.Join(d, w.Name), []byte(w.Value), 0); err != nil {
				return fmt.Errorf("set cgroup limit %s=%s: %w", w.Name, w.Value, err)
			}
		}
	}
	return nil
}

// available returns the controllers a v2 hierarchy has.
func available(root string) map[string]bool {
	b, _ := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	m := map[string]bool{}
	for _, c := range strings.Fields(string(b)) {
		m[c] = true
	}
	return m
}

// enableControllers enables cs in the subtree_control of every ancestor of
// dir below and including root.
func enableControllers(root, dir string, cs []string) error {
	if len(cs) == 0 {
		return nil
	}
	req := "+" + strings.Join(cs, " +")
	for _, p := range parentsOf(root, dir) {
		if err := os.WriteFile(filepath.Join(p, "cgroup.subtree_control"), []byte(req), 0); err != nil {
			return fmt.Errorf("enable cgroup controllers %s in %s: %w", req, p, err)
		}
	}
	return nil
}

// join moves the calling process into every directory of dirs.
func join(dirs []string) error {
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte("0"), 0); err != nil {
			return fmt.Errorf("join cgroup %s: %w", d, err)
		}
	}
	return nil
}

// procs returns every process in the group's tracking hierarchy (the
// first directory), its subgroups included.
func (g *group) procs() ([]int, error) {
	var pids []int
	err := filepath.WalkDir(g.Dirs[0], func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			more, err := readPids(filepath.Join(p, "cgroup.procs"))
			pids = append(pids, more...)
			return err
		}
		return nil
	})
	return pids, err
}

func readPids(file string) ([]int, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pids []int
	s := bufio.NewScanner(f)
	for s.Scan() {
		if pid, err := strconv.Atoi(s.Text()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, s.Err()
}

// signal sends sig to every process of the group.
func (g *group) signal(sig unix.Signal) error {
	pids, err := g.procs()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		_ = kernel.Retry("kill", func() error { return unix.Kill(pid, sig) })
	}
	return nil
}

// kill SIGKILLs the whole group: with cgroup.kill where the kernel has it
// (atomic against forks), else by signalling until it is empty.
func (g *group) kill() error {
	for _, d := range g.Dirs {
		// Only v2 groups have the file; v1 ones fail the open.
		if err := os.WriteFile(filepath.Join(d, "cgroup.kill"), []byte("1"), 0); err == nil {
			return nil
		}
	}
	for range 100 {
		pids, err := g.procs()
		if err != nil || len(pids) == 0 {
			return err
		}
		_ = g.signal(unix.SIGKILL)
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("kill cgroup %s: processes keep appearing", g.Dirs[0])
}

// empty reports whether no process is left in the group.
func (g *group) empty() bool {
	pids, err := g.procs()
	return err == nil && len(pids) == 0
}

// remove deletes the group's directories, deepest first. Processes that
// are still exiting keep a group busy for a moment: it retries briefly.
func (g *group) remove() error {
	var last error
	for _, d := range g.Dirs {
		var subs []string
		_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				subs = append(subs, p)
			}
			return nil
		})
		for i := len(subs) - 1; i >= 0; i-- {
			if err := rmdirRetry(subs[i]); err != nil {
				last = err
			}
		}
	}
	return last
}

func rmdirRetry(d string) error {
	var err error
	for range 200 {
		err = unix.Rmdir(d)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", d, err)
}
