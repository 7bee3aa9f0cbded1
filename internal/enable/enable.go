package enable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/unitgen"
)

// ErrNotInstalled: the unit template or target is not installed. A
// machine without an image fails with images.ErrNotFound.
var ErrNotInstalled = errors.New("unit file not installed")

// UnitSearchPath is where the installed template and target are looked
// up, relative to Paths.Root, in systemd's order.
var UnitSearchPath = []string{
	"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
	"/usr/lib/systemd/system", "/lib/systemd/system",
}

// DropInName is the file name of the per-machine drop-in.
const DropInName = "50-berth.conf"

// Change is one file system change, as systemd's EnableUnitFiles reports
// it: Type is "symlink", "unlink" or "write" (a drop-in written); Target
// is set for "symlink" only.
type Change struct {
	Type, Path, Target string
}

// Enable makes machine start at boot. dropIn, when not nil, is written as
// the machine's drop-in (replacing an earlier one); nil leaves any existing
// drop-in alone. It returns what it changed; enabling an enabled machine
// changes nothing.
func Enable(p paths.Paths, machine string, dropIn []byte) ([]Change, error) {
	unit, err := checkMachine(p, machine)
	if err != nil {
		return nil, fmt.Errorf("enable %s: %w", machine, err)
	}
	var changes []Change
	for _, l := range []struct{ dir, name, file string }{
		{unitgen.Target + ".wants", unit, unitgen.Template},
		{"multi-user.target.wants", unitgen.Target, unitgen.Target},
	} {
		target, err := installed(p, l.file)
		if err != nil {
			return changes, fmt.Errorf("enable %s: %w", machine, err)
		}
		c, err := link(filepath.Join(p.UnitDir, l.dir, l.name), target)
		if err != nil {
			return changes, fmt.Errorf("enable %s: %w", machine, err)
		}
		changes = append(changes, c...)
	}
	if dropIn != nil {
		c, err := writeDropIn(p, unit, dropIn)
		if err != nil {
			return changes, fmt.Errorf("enable %s: %w", machine, err)
		}
		changes = append(changes, c...)
	}
	return changes, nil
}

// Disable stops machine from starting at boot: it removes the machine's
// link and drop-in. Disabling a machine that is not enabled changes
// nothing. The image need not exist any more.
func Disable(p paths.Paths, machine string) ([]Change, error) {
	unit, err := unitgen.BootUnitName(machine)
	if err != nil {
		return nil, fmt.Errorf("disable %s: %w", machine, err)
	}
	var changes []Change
	dropDir := filepath.Join(p.UnitDir, unit+".d")
	for _, f := range []string{
		filepath.Join(p.UnitDir, unitgen.Target+".wants", unit), filepath.Join(dropDir, DropInName),
	} {
		err := os.Remove(f)
		switch {
		case err == nil:
			changes = append(changes, Change{Type: "unlink", Path: f})
		case !errors.Is(err, fs.ErrNotExist):
			return changes, fmt.Errorf("disable %s: %w", machine, err)
		}
	}
	_ = os.Remove(dropDir) // only if empty: other drop-ins are the admin's
	return changes, nil
}

// Enabled returns the enabled machines, sorted.
func Enabled(p paths.Paths) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(p.UnitDir, unitgen.Target+".wants"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list enabled machines: %w", err)
	}
	var ms []string
	for _, e := range ents {
		if m, ok := unitgen.MachineOf(e.Name()); ok && strings.HasPrefix(e.Name(), "berth-nspawn@") {
			ms = append(ms, m)
		}
	}
	sort.Strings(ms)
	return ms, nil
}

// IsEnabled reports whether machine is enabled.
func IsEnabled(p paths.Paths, machine string) (bool, error) {
	unit, err := unitgen.BootUnitName(machine)
	if err != nil {
		return false, err
	}
	_, err = os.Lstat(filepath.Join(p.UnitDir, unitgen.Target+".wants", unit))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// checkMachine validates the name, finds the image and returns the boot
// unit's name.
func checkMachine(p paths.Paths, machine string) (string, error) {
	unit, err := unitgen.BootUnitName(machine)
	if err != nil {
		return "", err
	}
	if _, err := images.New(p).Find(machine); err != nil {
		return "", err
	}
	return unit, nil
}

// installed finds file on the unit search path and returns its path as
// the host sees it (without Root), which is what the link must say.
func installed(p paths.Paths, file string) (string, error) {
	for _, dir := range UnitSearchPath {
		if _, err := os.Stat(filepath.Join(p.Root, dir, file)); err == nil {
			return filepath.Join(dir, file), nil
		}
	}
	return "", fmt.Errorf("%s: %w", file, ErrNotInstalled)
}

// link makes path a symbolic link to target, atomically replacing a link
// that points elsewhere.
func link(path, target string) ([]Change, error) {
	if cur, err := os.Readlink(path); err == nil && cur == target {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	tmp := path + ".berth-tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	return []Change{{Type: "symlink", Path: path, Target: target}}, nil
}

func writeDropIn(p paths.Paths, unit string, content []byte) ([]Change, error) {
	dir := filepath.Join(p.UnitDir, unit+".d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, DropInName)
	tmp := path + ".berth-tmp"
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	return []Change{{Type: "write", Path: path}}, nil
}
