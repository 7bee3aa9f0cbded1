package nspawnopts

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/berth-dev/berth/internal/capset"
	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/nspawnsettings"
	"github.com/berth-dev/berth/internal/privusers"
	"github.com/berth-dev/berth/internal/signame"
)

// ErrUsage marks every command-line error.
var ErrUsage = errors.New("invalid usage")

// ErrHelp is returned for -h/--help after the usage was written.
var ErrHelp = errors.New("help requested")

// Env is what Parse needs to know about the process it runs in.
type Env struct {
	// StdinTTY and StdoutTTY report whether fds 0 and 1 are terminals.
	StdinTTY, StdoutTTY bool
	// Getenv looks up a host environment variable (for -E NAME).
	Getenv func(string) string
	// ImageDirs are searched for -M NAME when -D is not given.
	ImageDirs []string
	// Pool is where --template with -M alone creates the image
	// (/var/lib/machines).
	Pool string
	// Exists reports whether a path exists (for the -M image search);
	// nil means nothing exists.
	Exists func(string) bool
	// FindImage, if set, finds the image -M NAME names when neither -D
	// nor -i is given (images.Manager.Find). An error means not found;
	// ImageDirs are searched then.
	FindImage func(name string) (Found, error)
	// Usage receives the help text for --help; nil discards it.
	Usage io.Writer
}

// raw holds the flag values before validation.
type raw struct {
	directory, template, machine, hostname, uuid    string
	chdir, user, killSignal, notifyReady, volatile  string
	noNewPrivs, resolvConf, timezone, linkJournal   string
	console, register                               string
	boot, asPID2, readOnly, ephemeral, quiet, pipe  bool
	keepUnit, privateNetwork, journalTryGuest, help bool
	env, tmpfs, inaccessible, capAdd, capDrop       []string
	capAmbient, bindUser                            []string
	// binds and overlays keep --bind/--bind-ro and --overlay/--overlay-ro
	// in command-line order.
	binds, overlays []tagged
	users           usersFlags
	settings        string
	rawImage        string
	pivotRoot       string

	// net are the network options (network.go).
	net netRaw
}

// tagged is one value of an option that shares an ordered list with its
// read-only twin.
type tagged struct {
	value string
	ro    bool
}

// taggedList is where an option appends to a shared ordered list.
type taggedList struct {
	list *[]tagged
	ro   bool
}

// Parse parses args (without the program name) into a Config. Every error
// wraps ErrUsage and reads as one line.
func Parse(args []string, env Env) (Config, error) {
	r := newRaw()
	var set given
	command, err := r.parseArgs(args, &set)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if r.help {
		if env.Usage != nil {
			_ = writeUsage(env.Usage)
		}
		return Config{}, ErrHelp
	}
	c, err := r.config(command, env)
	if err == nil {
		c.SettingsMode, err = nspawnsettings.ParseMode(r.settings)
	}
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	c.CommandLine = r.commandLine(&set, &c)
	return c, nil
}

// config validates r and fills in the defaults.
func (r *raw) config(args []string, env Env) (Config, error) {
	c := Config{
		Boot: r.boot, AsPID2: r.asPID2, ReadOnly: r.readOnly, Ephemeral: r.ephemeral,
		Quiet: r.quiet, KeepUnit: r.keepUnit, PrivateNetwork: r.privateNetwork,
		Command: args, Template: r.template,
	}
	steps := []func(*Config) error{
		func(c *Config) error { return r.image(c, env) },
		r.identity, r.modes, r.exec, r.lifecycle,
		func(c *Config) error { return r.envVars(c, env) },
		r.mounts, r.users.privateUsers, r.bindUsers, r.net.network, r.caps,
		func(c *Config) error { return r.terminal(c, env) },
	}
	for _, step := range steps {
		if err := step(&c); err != nil {
			return Config{}, err
		}
	}
	return c, nil
}

// image resolves the root directory, template and ephemeral rules.
func (r *raw) image(c *Config, env Env) error {
	if r.rawImage != "" {
		return r.imageFile(c)
	}
	c.Directory = r.directory
	if r.template != "" && r.directory == "" && r.machine == "" && !r.ephemeral {
		return errors.New("--template= needs --directory= or --machine=")
	}
	if r.ephemeral && r.template != "" {
		if r.directory != "" {
			return errors.New("cannot combine --ephemeral with --template= and --directory=")
		}
		c.Directory, c.Template = r.template, ""
	}
	if c.Directory == "" && r.machine != "" && env.FindImage != nil {
		if f, err := env.FindImage(r.machine); err == nil {
			c.ReadOnly = c.ReadOnly || (f.ReadOnly && !r.ephemeral)
			if f.Raw {
				r.rawImage = f.Path
				return r.imageFile(c)
			}
			c.Directory = f.Path
		}
	}
	if c.Directory == "" && r.machine != "" {
		c.Directory = findImage(r.machine, env)
		if c.Directory == "" && c.Template != "" && env.Pool != "" && names.ValidImage(r.machine) == nil {
			c.Directory = path.Join(env.Pool, r.machine)
		}
	}
	if c.Directory == "" {
		return errors.New("no root directory: use --directory= or --machine= of an existing image")
	}
	return nil
}

// Found is an image FindImage found.
type Found struct {
	// Path is the image's directory or raw file.
	Path string
	// Raw marks a raw disk image (run as with -i).
	Raw bool
	// ReadOnly: --read-only applies unless -x.
	ReadOnly bool
}

// imageFile validates -i.
func (r *raw) imageFile(c *Config) error {
	switch {
	case r.directory != "" || r.template != "":
		return errors.New("--image= may not be combined with --directory= or --template=")
	case strings.ContainsRune(r.rawImage, 0):
		return fmt.Errorf("invalid image path %q", r.rawImage)
	}
	c.Image = r.rawImage
	return nil
}

// findImage looks for an image named name in the image directories, or
// returns the pool path where --template would create it.
func findImage(name string, env Env) string {
	if names.ValidImage(name) != nil || len(env.ImageDirs) == 0 {
		return ""
	}
	for _, d := range env.ImageDirs {
		p := path.Join(d, name)
		if env.Exists != nil && env.Exists(p) {
			return p
		}
	}
	return ""
}

// identity sets the machine name, hostname and UUID.
func (r *raw) identity(c *Config) error {
	c.Machine = r.machine
	if c.Machine == "" {
		c.Machine = names.CleanupHostname(path.Base(path.Clean(c.Directory)))
		if c.Image != "" {
			c.Machine = names.CleanupHostname(strings.TrimSuffix(path.Base(c.Image), ".raw"))
		}
		if c.Directory == "/" {
			c.Machine = "host"
		}
		if names.ValidMachine(c.Machine) != nil {
			return fmt.Errorf("cannot derive a machine name from %q, use --machine=", c.Directory)
		}
		if r.ephemeral {
			c.Machine = ephemeralName(c.Machine)
		}
	} else if err := names.ValidMachine(c.Machine); err != nil {
		return fmt.Errorf("invalid machine name %q", c.Machine)
	}
	c.Hostname = c.Machine
	if r.hostname != "" {
		if names.ValidMachine(r.hostname) != nil {
			return fmt.Errorf("invalid hostname %q", r.hostname)
		}
		c.Hostname = r.hostname
	}
	if r.uuid != "" {
		u, err := ParseUUID(r.uuid)
		if err != nil {
			return err
		}
		c.UUID = u
	}
	return nil
}

// ephemeralName appends a random suffix, as nspawn does for -x, so many
// instances of one image can run at once.
func ephemeralName(base string) string {
	var b [8]byte
	_ = kernel.Random(b[:]) // getrandom does not fail once the pool is seeded
	suffix := "-" + hex.EncodeToString(b[:])
	if len(base)+len(suffix) > 64 {
		base = strings.TrimRight(base[:64-len(suffix)], ".-")
	}
	return base + suffix
}

// ParseUUID parses a 128-bit ID in 32-hex or dashed form and returns the
// dashed form. The all-zero ID is refused.
func ParseUUID(s string) (string, error) {
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 || (len(s) != 32 && len(s) != 36) {
		return "", fmt.Errorf("invalid UUID %q", s)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return "", fmt.Errorf("invalid UUID %q", s)
	}
	if strings.Trim(h, "0") == "" {
		return "", errors.New("the UUID must not be all zeros")
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// exec validates how the payload is started.
func (r *raw) exec(c *Config) error {
	if c.Boot && c.AsPID2 {
		return errors.New("--boot and --as-pid2 may not be combined")
	}
	if r.chdir != "" && !path.IsAbs(r.chdir) {
		return fmt.Errorf("--chdir= needs an absolute path, got %q", r.chdir)
	}
	c.Chdir = r.chdir
	pr, err := nspawnsettings.ParsePivotRoot(r.pivotRoot)
	if err != nil {
		return fmt.Errorf("invalid --pivot-root=: %w", err)
	}
	c.PivotRoot = pr
	if r.user != "" && (strings.ContainsAny(r.user, "/:\n\x00") || len(r.user) > 256) {
		return fmt.Errorf("invalid user name %q", r.user)
	}
	c.User = r.user
	return nil
}

// lifecycle sets the kill signal, readiness and registration.
func (r *raw) lifecycle(c *Config) error {
	if r.killSignal != "" {
		sig, err := signame.Parse(r.killSignal)
		if err != nil {
			return fmt.Errorf("invalid signal for --kill-signal: %w", err)
		}
		c.KillSignal = sig
	} else if c.Boot {
		c.KillSignal = SigRTMin + 3
	}
	var err error
	if c.NotifyReady, err = parseBool("--notify-ready", r.notifyReady); err != nil {
		return err
	}
	if c.NoNewPrivileges, err = parseBool("--no-new-privileges", r.noNewPrivs); err != nil {
		return err
	}
	switch strings.ToLower(r.register) {
	case RegisterAuto:
		c.Register = RegisterAuto
	default:
		yes, err := parseBool("--register", r.register)
		if err != nil {
			return err
		}
		c.Register = map[bool]string{true: RegisterYes, false: RegisterNo}[yes]
	}
	return nil
}

// parseBool parses systemd's boolean spellings.
func parseBool(opt, s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "yes", "y", "true", "t", "on":
		return true, nil
	case "0", "no", "n", "false", "f", "off":
		return false, nil
	}
	return false, fmt.Errorf("%s: invalid boolean %q", opt, s)
}

// envVars validates -E assignments.
func (r *raw) envVars(c *Config, env Env) error {
	for _, a := range r.env {
		name, _, hasValue := strings.Cut(a, "=")
		if !validEnvName(name) {
			return fmt.Errorf("invalid environment assignment %q", a)
		}
		if !hasValue {
			if env.Getenv == nil {
				continue
			}
			a = name + "=" + env.Getenv(name)
		}
		c.Env = append(c.Env, a)
	}
	return nil
}

// validEnvName follows systemd's env_name_is_valid: not empty, no digit
// first, only letters, digits and underscores.
func validEnvName(s string) bool {
	if s == "" || len(s) > 4096 || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch == '_' || ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z') {
			return false
		}
	}
	return true
}

// bindUsers refuses --bind-user=, with nspawn's message when there is
// no user namespace.
func (r *raw) bindUsers(c *Config) error {
	switch {
	case len(r.bindUser) == 0:
		return nil
	case c.PrivateUsers.Mode == privusers.ModeNo:
		return errors.New("--bind-user= requires --private-users")
	}
	return errors.New("--bind-user= is not supported by berth-nspawn: host users are not mapped into containers")
}

// caps computes the capability set from the defaults and the options.
func (r *raw) caps(c *Config) error {
	c.Caps = capset.Default
	if c.PrivateNetwork {
		c.Caps |= capset.NetAdmin
	}
	for _, s := range r.capAdd {
		set, err := capset.Parse(s)
		if err != nil {
			return fmt.Errorf("--capability: %w", err)
		}
		c.Caps |= set
	}
	for _, s := range r.capDrop {
		set, err := capset.Parse(s)
		if err != nil {
			return fmt.Errorf("--drop-capability: %w", err)
		}
		c.Caps &^= set
	}
	for _, s := range r.capAmbient {
		set, err := parseAmbient(s)
		if err != nil {
			return fmt.Errorf("--ambient-capability: %w", err)
		}
		c.AmbientCaps |= set
	}
	return checkAmbient(c)
}

// parseAmbient parses an --ambient-capability= list, which may not be
// "all".
func parseAmbient(s string) (capset.Set, error) {
	for _, f := range strings.Split(s, ",") {
		if strings.EqualFold(strings.TrimSpace(f), "all") {
			return 0, errAmbientAll
		}
	}
	return capset.Parse(s)
}

// errAmbientAll is nspawn's refusal of the ambient set "all".
var errAmbientAll = errors.New("the ambient capability set does not support the value all")

// checkAmbient applies nspawn's rules for the ambient set: it must lie
// within the capabilities the container keeps, and a booted init gets
// none.
func checkAmbient(c *Config) error {
	switch {
	case c.AmbientCaps == 0:
		return nil
	case c.AmbientCaps&^c.Caps != 0:
		return fmt.Errorf("ambient capabilities %s are not in the container's capability set (add them with --capability= or Capability=)", c.AmbientCaps&^c.Caps)
	case c.Boot:
		return errors.New("ambient capabilities are not useful with --boot")
	}
	return nil
}

// terminal resolves the console mode.
func (r *raw) terminal(c *Config, env Env) error {
	mode := r.console
	tty := env.StdinTTY && env.StdoutTTY
	switch mode {
	case "":
		mode = map[bool]string{true: ConsoleInteractive, false: ConsoleReadOnly}[tty]
	case "autopipe":
		mode = map[bool]string{true: ConsoleInteractive, false: ConsolePipe}[tty]
	case ConsoleInteractive, ConsoleReadOnly, ConsolePassive, ConsolePipe:
	default:
		return fmt.Errorf("invalid --console= mode %q", mode)
	}
	if r.pipe {
		mode = ConsolePipe
	}
	c.Console = mode
	return nil
}
