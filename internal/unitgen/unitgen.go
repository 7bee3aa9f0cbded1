package unitgen

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/unitfile"
)

// ErrTemplate is wrapped by every error about the template's content.
var ErrTemplate = errors.New("bad unit template")

// ErrSettings is wrapped by every error about a machine's settings.
var ErrSettings = errors.New("bad machine settings")

// Defaults systemd applies when the template leaves a setting out.
const (
	DefaultTimeoutStop  = 90 * time.Second
	DefaultTimeoutStart = 90 * time.Second
)

// Unit is a machine's generated unit: everything a backend needs to run
// it. Limit fields are 0 when unset; Infinity means "infinity".
type Unit struct {
	// Name is the transient unit name, berth-machine@NAME.service.
	Name string
	// Machine is the machine name (the instance).
	Machine string
	// Description is the expanded Description=.
	Description string
	// Documentation, Wants, After, Before, PartOf, Requires and
	// RequiresMountsFor are the [Unit] lists, expanded.
	Documentation, Wants, After, Before, PartOf, Requires, RequiresMountsFor []string
	// Type is simple, exec or notify.
	Type string
	// ExecStart is the command, split and expanded; ExecStart[0] is the
	// program.
	ExecStart []string
	// Environment holds "KEY=value" assignments, template's first.
	Environment []string
	// KillMode is control-group, mixed or process.
	KillMode string
	// KillSignal is sent to stop the unit (SIGTERM by default).
	KillSignal unix.Signal
	// TimeoutStart and TimeoutStop bound start-up and stop; 0 is infinity.
	TimeoutStart, TimeoutStop time.Duration
	// SuccessExitStatus and RestartForceExitStatus are the extra clean
	// and restart-forcing exit statuses.
	SuccessExitStatus, RestartForceExitStatus ExitStatus
	// Slice is the slice unit the machine's cgroup lives below.
	Slice string
	// Delegate hands the cgroup subtree to the payload.
	Delegate bool
	// DevicePolicy is auto, closed or strict ("" when unset).
	DevicePolicy string
	// DeviceAllow lists "node permissions" pairs, expanded.
	DeviceAllow []DeviceAllow
	// Limits are the resource limits.
	Limits Limits
}

// DeviceAllow is one DeviceAllow= entry.
type DeviceAllow struct {
	// Path is a device node path or "char-NAME"/"block-NAME".
	Path string
	// Perm is a subset of "rwm".
	Perm string
}

// Limits are a machine's resource limits; 0 leaves a limit unset.
type Limits struct {
	// MemoryMax is the memory limit in bytes (Infinity for none).
	MemoryMax uint64
	// CPUQuota is the CPU time quota in percent of one CPU (150 = 1.5 CPUs).
	CPUQuota uint64
	// CPUWeight is the relative CPU weight, 1..10000.
	CPUWeight uint64
	// TasksMax is the maximum number of tasks (Infinity for none).
	TasksMax uint64
	// IOWeight is the relative IO weight, 1..10000.
	IOWeight uint64
}

// Settings are a machine's own settings, folded over the template.
type Settings struct {
	// Machine is the machine name; it must be a valid machine name.
	Machine string
	// Limits override the template's limits where non-zero.
	Limits Limits
	// KillSignal overrides KillSignal= when non-zero.
	KillSignal unix.Signal
	// GuestStopSignal, when non-zero, is passed to berth-nspawn as
	// --kill-signal=: the signal it sends the guest's init to stop it.
	GuestStopSignal unix.Signal
	// TimeoutStop overrides TimeoutStopSec= when non-zero.
	TimeoutStop time.Duration
	// Environment is appended to the template's Environment=.
	Environment []string
	// Host supplies the values of the host specifiers (%H, %m, %b, %v).
	Host Host
}

// Generate parses template, expands it for s.Machine and folds in s.
func Generate(template []byte, s Settings) (Unit, error) {
	name, err := UnitName(s.Machine)
	if err != nil {
		return Unit{}, fmt.Errorf("generate unit: %w: %w", ErrSettings, err)
	}
	f, err := unitfile.Parse(template)
	if err != nil {
		return Unit{}, fmt.Errorf("generate unit: %w: %w", ErrTemplate, err)
	}
	if err := checkKeys(f); err != nil {
		return Unit{}, fmt.Errorf("generate unit: %w", err)
	}
	g := gen{f: f, spec: specifiers(parseUnitName(name), s.Host), u: Unit{Name: name, Machine: s.Machine}}
	for _, step := range []func() error{g.unitSection, g.exec, g.kill, g.cgroup, g.limits} {
		if err := step(); err != nil {
			return Unit{}, fmt.Errorf("generate unit %s: %w", name, err)
		}
	}
	if err := g.u.fold(s); err != nil {
		return Unit{}, fmt.Errorf("generate unit %s: %w", name, err)
	}
	return g.u, nil
}

// known lists the settings Generate understands, per section. Anything
// else in the template is an error: a setting no backend applies must not
// disappear silently. [Install] is read by enable, not here.
var known = map[string][]string{
	"Unit": {"Description", "Documentation", "Wants", "After", "Before", "PartOf", "Requires", "RequiresMountsFor"},
	"Service": {"Type", "ExecStart", "Environment", "KillMode", "KillSignal", "TimeoutStartSec", "TimeoutStopSec",
		"SuccessExitStatus", "RestartForceExitStatus", "Restart", "Slice", "Delegate", "DevicePolicy", "DeviceAllow",
		"MemoryMax", "CPUQuota", "CPUWeight", "TasksMax", "IOWeight"},
	"Install": nil,
}

func checkKeys(f *unitfile.File) error {
	for _, s := range f.Sections {
		allowed, ok := known[s.Name]
		if !ok {
			return fmt.Errorf("%w: unsupported section [%s]", ErrTemplate, s.Name)
		}
		for _, e := range s.Entries {
			if allowed != nil && !contains(allowed, e.Key) {
				return fmt.Errorf("%w: unsupported setting %s= in [%s]", ErrTemplate, e.Key, s.Name)
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// gen is one generation in progress.
type gen struct {
	f    *unitfile.File
	spec map[byte]string
	u    Unit
}

// value returns the expanded last value of a [Service] or [Unit] key.
func (g *gen) value(section, key string) (string, bool, error) {
	v, ok := g.f.Value(section, key)
	if !ok {
		return "", false, nil
	}
	x, err := expand(v, g.spec)
	return x, true, err
}

// list returns the expanded, white-space separated words of every value
// of key.
func (g *gen) list(section, key string) ([]string, error) {
	var out []string
	for _, v := range g.f.Values(section, key) {
		words, err := splitWords(v)
		if err != nil {
			return nil, err
		}
		for _, w := range words {
			x, err := expand(w, g.spec)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
	}
	return out, nil
}

func (g *gen) unitSection() error {
	var err error
	if g.u.Description, _, err = g.value("Unit", "Description"); err != nil {
		return err
	}
	for key, dst := range map[string]*[]string{
		"Documentation": &g.u.Documentation, "Wants": &g.u.Wants, "After": &g.u.After, "Before": &g.u.Before,
		"PartOf": &g.u.PartOf, "Requires": &g.u.Requires, "RequiresMountsFor": &g.u.RequiresMountsFor,
	} {
		if *dst, err = g.list("Unit", key); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) exec() error {
	typ, ok := g.f.Value("Service", "Type")
	switch {
	case !ok:
		typ = "simple"
	case typ != "simple" && typ != "exec" && typ != "notify":
		return fmt.Errorf("%w: Type=%s is not supported (simple, exec or notify)", ErrTemplate, typ)
	}
	g.u.Type = typ
	if r, ok := g.f.Value("Service", "Restart"); ok && r != "no" {
		return fmt.Errorf("%w: Restart=%s is not supported (only restart on RestartForceExitStatus=)", ErrTemplate, r)
	}
	lines := g.f.Values("Service", "ExecStart")
	if len(lines) != 1 {
		return fmt.Errorf("%w: need exactly one ExecStart=, have %d", ErrTemplate, len(lines))
	}
	argv, err := g.command(lines[0])
	if err != nil {
		return err
	}
	g.u.ExecStart = argv
	g.u.Environment, err = g.list("Service", "Environment")
	if err != nil {
		return err
	}
	return validEnv(g.u.Environment)
}

// command splits and expands an ExecStart= line. Prefixes ("-", "@", "+"
// ...), ";" separated commands and $VAR expansion are not supported.
func (g *gen) command(line string) ([]string, error) {
	words, err := splitWords(line)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 || words[0] == "" || strings.ContainsAny(words[0][:1], "-@:+!|") {
		return nil, fmt.Errorf("%w: ExecStart=%s: empty or prefixed command", ErrTemplate, line)
	}
	argv := make([]string, 0, len(words))
	for _, w := range words {
		if w == ";" {
			return nil, fmt.Errorf("%w: ExecStart= with several commands", ErrTemplate)
		}
		w = strings.ReplaceAll(w, "$$", "\x00")
		if strings.Contains(w, "$") {
			return nil, fmt.Errorf("%w: ExecStart= variable expansion ($VAR) is not supported", ErrTemplate)
		}
		x, err := expand(w, g.spec)
		if err != nil {
			return nil, err
		}
		argv = append(argv, strings.ReplaceAll(x, "\x00", "$"))
	}
	return argv, nil
}

func validEnv(env []string) error {
	for _, e := range env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\n=") {
			return fmt.Errorf("%w: bad environment assignment %q", ErrTemplate, e)
		}
	}
	return nil
}
