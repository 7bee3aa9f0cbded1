package containercgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// Detect returns the host's cgroup mode and the cgroup2 mount point, given
// the cgroup file system root (normally /sys/fs/cgroup).
func Detect(root string) (Mode, string) {
	if isCgroup2(root) {
		return Unified, root
	}
	if u := filepath.Join(root, "unified"); isCgroup2(u) {
		return Hybrid, u
	}
	return None, ""
}

func isCgroup2(p string) bool {
	var st unix.Statfs_t
	err := kernel.Retry("statfs", func() error { return unix.Statfs(p, &st) })
	return err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// Group is a cgroup created for one container.
type Group struct {
	// Path is the group's directory in the cgroup2 file system.
	Path string
	// created are the directories this package made, deepest last.
	created []string
	// supervisor is set when the spawner moved itself into a child group.
	supervisor string
	// home is where the spawner was before it moved.
	home string
}

// Options say where the container's group goes.
type Options struct {
	// Root is the cgroup file system root (paths.Paths.Cgroup).
	Root string
	// Machine is the machine name.
	Machine string
	// KeepUnit places the container below the spawner's own group.
	KeepUnit bool
}

// Create makes the container's cgroup (see the package documentation) and
// returns it. On a Unified host it delegates the available controllers.
func Create(o Options) (*Group, error) {
	mode, mnt := Detect(o.Root)
	if mode == None {
		return nil, ErrNoCgroup2
	}
	own, err := ownPath()
	if err != nil {
		return nil, err
	}
	g := &Group{home: filepath.Join(mnt, own)}
	for try := 0; try < 5; try++ {
		if o.KeepUnit && own != "/" {
			err = g.createKeepUnit(mode, mnt, own)
		} else {
			err = g.mkdirs(mnt, "machine.slice", ScopeName(o.Machine))
		}
		// A concurrent Remove may take away a shared parent between
		// its creation and ours: try again.
		if !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if err != nil {
		g.Remove()
		return nil, err
	}
	return g, nil
}

// createKeepUnit makes own/payload, moving the spawner to own/supervisor on
// a unified host so controllers can be delegated to the payload.
func (g *Group) createKeepUnit(mode Mode, mnt, own string) error {
	if mode == Unified {
		if err := g.mkdirs(mnt, own, "supervisor"); err != nil {
			return err
		}
		g.supervisor = g.Path
		if err := Add(g.supervisor, os.Getpid()); err != nil {
			return err
		}
	}
	return g.mkdirs(mnt, own, "payload")
}

// mkdirs creates mnt/parent/leaf (leaf must be new), delegating
// controllers on the way, and sets g.Path to it.
func (g *Group) mkdirs(mnt, parent, leaf string) error {
	dir := mnt
	for _, part := range strings.Split(strings.Trim(parent, "/"), "/") {
		if part == "" {
			continue
		}
		delegate(dir)
		dir = filepath.Join(dir, part)
		if err := os.Mkdir(dir, 0o755); err == nil {
			g.created = append(g.created, dir)
		} else if !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("cgroup: %w", err)
		}
	}
	delegate(dir)
	g.Path = filepath.Join(dir, leaf)
	if stale(g.Path) {
		// Left by a spawner that was killed: nobody is in it any more.
		_ = removeTree(g.Path)
	}
	if err := os.Mkdir(g.Path, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, g.Path)
		}
		return fmt.Errorf("cgroup: %w", err)
	}
	g.created = append(g.created, g.Path)
	return nil
}

// stale reports whether the group dir exists with no process in it or
// below it.
func stale(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	return err == nil && strings.Contains(string(data), "populated 0")
}

// delegate enables every controller dir has for its children; it is best
// effort (a group with processes cannot delegate, nor can a hybrid one).
// The hierarchy's root is left as the host's manager set it up.
func delegate(dir string) {
	if _, err := os.Stat(filepath.Join(dir, "cgroup.type")); err != nil {
		return // only the root group has no cgroup.type
	}
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil || len(strings.TrimSpace(string(data))) == 0 {
		return
	}
	var ctl []string
	for _, c := range strings.Fields(string(data)) {
		ctl = append(ctl, "+"+c)
	}
	_ = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(strings.Join(ctl, " ")), 0)
}

// Add moves process pid into the group directory dir.
func Add(dir string, pid int) error {
	err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
	if err != nil {
		return fmt.Errorf("cgroup: move %d: %w", pid, err)
	}
	return nil
}

// ownPath returns the calling process's cgroup2 path.
func ownPath() (string, error) {
	return PathOf(os.Getpid())
}

// PathOf returns process pid's cgroup2 path.
func PathOf(pid int) (string, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", fmt.Errorf("cgroup: %w", err)
	}
	defer f.Close()
	return UnifiedPath(f)
}

// Remove moves the spawner back where it was and removes every directory
// Create made. The container must have exited; a group still draining is
// retried for a short while.
func (g *Group) Remove() error {
	if g.supervisor != "" {
		_ = Add(g.home, os.Getpid())
	}
	if len(g.created) == 0 {
		return nil
	}
	err := removeTree(g.created[len(g.created)-1])
	for i := len(g.created) - 2; i >= 0; i-- {
		_ = unix.Rmdir(g.created[i]) // shared parents: only when empty
	}
	g.created = nil
	return err
}

// removeTree removes a cgroup directory and the groups a guest made below
// it, deepest first.
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return rmdirRetry(dir)
}

// rmdirRetry removes a cgroup directory, waiting up to two seconds for
// exiting processes to leave it.
func rmdirRetry(dir string) error {
	var err error
	for i := 0; i < 200; i++ {
		if err = unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("cgroup: remove %s: %w", dir, err)
}
