package machine1

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/berthapi"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nspawnopts"
	"github.com/berth-dev/berth/internal/nspawnsettings"
	"github.com/berth-dev/berth/internal/paths"
)

// SettingsSource is what GetEffectiveSettings needs: where the settings
// files and images are, and the command line a machine's unit runs.
type SettingsSource struct {
	// Paths are the host paths (settings directories, image pools).
	Paths paths.Paths
	// UnitCommand returns the command line (ExecStart) of the machine's
	// unit, used for a machine no berth-nspawn runs
	// (*lifecycle.Manager.Command).
	UnitCommand func(machine string) ([]string, error)
}

// spawnerName is the program name of berth's spawner.
const spawnerName = "berth-nspawn"

// effective is GetEffectiveSettings' answer.
type effective struct {
	source   string
	command  []string
	file     string
	trusted  bool
	mode     string
	rows     []berthapi.Setting
	warnings []string
}

// settingsMethods are dev.berth.Manager1's settings methods beyond the
// lifecycle's.
func (s *Server) settingsMethods() iface {
	return iface{"GetEffectiveSettings": newMethod(s.getEffectiveSettings)}
}

func (s *Server) getEffectiveSettings(msg dbus.Message, name string) (string, []string, string, bool, string, []berthapi.Setting, []string, *dbus.Error) {
	e, err := s.effectiveSettings(msg, name)
	if err != nil {
		return "", nil, "", false, "", nil, nil, busError(err)
	}
	return e.source, e.command, e.file, e.trusted, e.mode, e.rows, e.warnings, nil
}

// effectiveSettings resolves name's settings from the command line of
// the berth-nspawn running it, else from its unit's command line.
func (s *Server) effectiveSettings(msg dbus.Message, name string) (effective, error) {
	const what = "get effective settings"
	if err := s.requireRoot(msg, what); err != nil {
		return effective{}, err
	}
	src := s.opts.Settings
	if src == nil {
		return effective{}, fmt.Errorf("%s: %w", what, errNotSupported)
	}
	var e effective
	if m, err := s.opts.Machines.Get(name); err == nil {
		if pid, argv := spawnerOf(int(m.Leader)); pid > 0 {
			e.source, e.command = spawnerName+" PID "+strconv.Itoa(pid), argv
		}
	}
	if e.command == nil {
		if src.UnitCommand == nil {
			return effective{}, fmt.Errorf("%s of %s: no unit template: %w", what, name, errNotSupported)
		}
		argv, err := src.UnitCommand(name)
		if err != nil {
			return effective{}, fmt.Errorf("%s of %s: %w", what, name, err)
		}
		e.source, e.command = "unit", argv
	}
	if err := e.resolve(src.Paths); err != nil {
		return effective{}, fmt.Errorf("%s of %s: %w", what, name, err)
	}
	return e, nil
}

// resolve parses e.command as berth-nspawn does and merges the machine's
// settings file into it.
func (e *effective) resolve(p paths.Paths) error {
	if len(e.command) == 0 {
		return fmt.Errorf("empty command line: %w", errInvalidArgs)
	}
	c, err := nspawnopts.Parse(e.command[1:], nspawnopts.Env{
		Getenv: func(string) string { return "" }, ImageDirs: p.ImageDirs, Pool: p.Pool,
		Exists:    func(s string) bool { _, err := os.Stat(s); return err == nil },
		FindImage: findImage(p),
	})
	if err != nil {
		return err
	}
	eff, err := nspawnsettings.Resolve(p, c.Machine, cmp.Or(c.Directory, c.Image), c.CommandLine, c.SettingsMode)
	if err != nil {
		return err
	}
	e.mode = eff.Mode.String()
	if eff.File != nil {
		e.file, e.trusted = eff.File.Path, eff.File.Trusted
		if err := eff.Settings.CheckSupported(); err != nil {
			e.warnings = append(e.warnings, "berth-nspawn refuses to start: "+err.Error())
		}
	}
	for _, w := range eff.Warnings {
		e.warnings = append(e.warnings, w.String())
	}
	for _, en := range eff.Entries() {
		e.rows = append(e.rows, berthapi.Setting{Section: en.Section, Key: en.Key, Value: en.Value, Origin: en.Origin.String()})
	}
	return nil
}

// findImage finds -M NAME's image as berth-nspawn does.
func findImage(p paths.Paths) func(string) (nspawnopts.Found, error) {
	return func(name string) (nspawnopts.Found, error) {
		img, err := images.New(p).Find(name)
		if err != nil {
			return nspawnopts.Found{}, err
		}
		return nspawnopts.Found{Path: img.Path, Raw: img.Type == images.Raw, ReadOnly: img.ReadOnly}, nil
	}
}

// spawnerOf finds the berth-nspawn that runs the machine whose leader is
// leader: the nearest of its ancestors (at most three up) executing
// berth-nspawn, not as its internal stage. It returns the PID and command
// line, or 0 when there is none.
func spawnerOf(leader int) (int, []string) {
	pid := leader
	for range 3 {
		if pid = parentOf(pid); pid <= 1 {
			return 0, nil
		}
		exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
		if err != nil || strings.TrimSuffix(filepath.Base(exe), " (deleted)") != spawnerName {
			continue
		}
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		argv := strings.Split(string(bytes.TrimSuffix(raw, []byte{0})), "\x00")
		if err == nil && len(argv) > 0 && (len(argv) < 2 || !strings.HasPrefix(argv[1], "__")) {
			return pid, argv
		}
	}
	return 0, nil
}

// parentOf returns pid's parent from /proc/PID/stat, 0 if unknown.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name is in parentheses and may hold anything; the
	// fields after the last ")" are "state ppid ...".
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}
