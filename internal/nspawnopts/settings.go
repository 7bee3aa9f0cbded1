package nspawnopts

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/berth-dev/berth/internal/capset"
	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/nspawnsettings"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/privusers"
)

// commandLine records the options given as .nspawn settings (each
// option's key), so a settings file can be merged with them
// (nspawnsettings.Merge).
func (r *raw) commandLine(set *given, c *Config) *nspawnsettings.Settings {
	var s nspawnsettings.Settings
	record := func(key, value string) { _ = s.SetFromCommandLine(key, value) }
	for i := range options {
		o := &options[i]
		if !set[i] || o.key == "" {
			continue
		}
		vals := o.list(r)
		if vals == nil {
			record(o.key, o.value(r))
		}
		for _, v := range vals {
			if strings.HasSuffix(o.key, "Capability") {
				v = strings.ReplaceAll(v, ",", " ") // the file's list syntax
			}
			record(o.key, v)
		}
	}
	if r.users.flagU && r.users.users == "" {
		record("PrivateUsers", "pick")
	}
	if r.journalTryGuest {
		record("LinkJournal", "try-guest")
	}
	for _, e := range c.Env {
		record("Environment", e)
	}
	for _, b := range r.binds {
		record(tagKey(b.ro, "Bind", "BindReadOnly"), b.value)
	}
	for _, o := range r.overlays {
		record(tagKey(o.ro, "Overlay", "OverlayReadOnly"), o.value)
	}
	if len(c.Command) > 0 {
		record("Parameters", quoteWords(c.Command))
	}
	return &s
}

// tagKey is the key of a value of an option with a read-only twin.
func tagKey(ro bool, rw, roKey string) string {
	if ro {
		return roKey
	}
	return rw
}

// quoteWords joins words in the .nspawn list syntax: each in double
// quotes, with backslashes and double quotes escaped.
func quoteWords(w []string) string {
	var b strings.Builder
	for i, s := range w {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		for j := 0; j < len(s); j++ {
			if s[j] == '\\' || s[j] == '"' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[j])
		}
		b.WriteByte('"')
	}
	return b.String()
}

// ApplySettings finds the machine's .nspawn file (trusted directories of
// p, then the image's directory), merges it with the command line by c's
// --settings= mode, writes each warning to warn, and applies the settings
// the file won to c. A malformed file is an error; nothing has started.
// Without a file (the common case) nothing is merged: the command line
// alone applies, as it is.
func ApplySettings(c *Config, p paths.Paths, warn io.Writer) error {
	if c.SettingsMode == nspawnsettings.ModeNo {
		return nil
	}
	f, err := nspawnsettings.Find(p, c.Machine, cmp.Or(c.Directory, c.Image))
	if errors.Is(err, nspawnsettings.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	if c.CommandLine == nil {
		c.CommandLine = &nspawnsettings.Settings{}
	}
	eff := nspawnsettings.Merge(c.CommandLine, f, c.SettingsMode)
	for _, w := range eff.Warnings {
		fmt.Fprintf(warn, "berth-nspawn: %s\n", w)
	}
	s := &eff.Settings
	if err := s.CheckSupported(); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	c.Process = s.Process()
	steps := []func(*Config, *nspawnsettings.Settings) error{applyExec, applyIdentity, applyFiles, applyMounts, applyUsers, applyNetwork}
	for _, step := range steps {
		if err := step(c, s); err != nil {
			return fmt.Errorf("settings %s: %w", eff.File.Path, err)
		}
	}
	if err := checkAmbient(c); err != nil {
		return fmt.Errorf("settings %s: %w", eff.File.Path, err)
	}
	return nil
}

// fromFile reports whether a merged setting came from the file.
func fromFile[T any](f nspawnsettings.Field[T]) bool {
	return f.Set && f.Origin.Kind == nspawnsettings.FromFile
}

// applyExec applies the start mode, environment and process settings.
func applyExec(c *Config, s *nspawnsettings.Settings) error {
	if fromFile(s.Boot) {
		c.Boot = s.Boot.Value
		if c.Boot && !s.KillSignal.Set {
			c.KillSignal = SigRTMin + 3
		}
	}
	if fromFile(s.Ephemeral) {
		c.Ephemeral = s.Ephemeral.Value
	}
	if fromFile(s.ProcessTwo) {
		c.AsPID2 = s.ProcessTwo.Value
	}
	if fromFile(s.Parameters) {
		c.Command = s.Parameters.Value
	}
	if c.Boot && c.AsPID2 {
		return errors.New("settings: Boot= and ProcessTwo= may not be combined")
	}
	if fromFile(s.Environment) {
		c.Env = s.Environment.Value
	}
	if fromFile(s.User) {
		c.User = s.User.Value
	}
	if fromFile(s.WorkingDirectory) {
		c.Chdir = s.WorkingDirectory.Value
	}
	if fromFile(s.PivotRoot) {
		c.PivotRoot = s.PivotRoot.Value
	}
	if fromFile(s.KillSignal) {
		c.KillSignal = int(s.KillSignal.Value)
	}
	if fromFile(s.NoNewPrivileges) {
		c.NoNewPrivileges = s.NoNewPrivileges.Value
	}
	if fromFile(s.NotifyReady) {
		c.NotifyReady = s.NotifyReady.Value
	}
	if fromFile(s.Capability) {
		c.Caps |= capset.Set(s.Capability.Value)
	}
	if fromFile(s.DropCapability) {
		c.Caps &^= capset.Set(s.DropCapability.Value)
	}
	if fromFile(s.AmbientCapability) {
		// As nspawn: the file's ambient set is also kept in the bounding set.
		if s.AmbientCapability.Value == nspawnsettings.AllCapabilities {
			return errors.New("AmbientCapability= does not support the value all")
		}
		c.AmbientCaps |= capset.Set(s.AmbientCapability.Value)
		c.Caps |= capset.Set(s.AmbientCapability.Value)
	}
	return nil
}

// applyIdentity applies Hostname=, Private= and the /etc modes.
func applyIdentity(c *Config, s *nspawnsettings.Settings) error {
	if fromFile(s.Hostname) {
		if names.ValidMachine(s.Hostname.Value) != nil {
			return fmt.Errorf("invalid Hostname= %q", s.Hostname.Value)
		}
		c.Hostname = s.Hostname.Value
	}
	if fromFile(s.MachineID) {
		c.UUID, _ = ParseUUID(s.MachineID.Value.String())
	}
	if fromFile(s.Private) && s.Private.Value && !c.PrivateNetwork {
		c.PrivateNetwork = true
		c.Caps |= capset.NetAdmin
	}
	if fromFile(s.ResolvConf) {
		c.ResolvConf = s.ResolvConf.Value.String()
	}
	if fromFile(s.Timezone) {
		c.Timezone = s.Timezone.Value.String()
	}
	if fromFile(s.LinkJournal) {
		c.LinkJournal = s.LinkJournal.Value.String()
	}
	return nil
}

// applyFiles applies ReadOnly= and Volatile=.
func applyFiles(c *Config, s *nspawnsettings.Settings) error {
	if fromFile(s.ReadOnly) {
		c.ReadOnly = s.ReadOnly.Value
	}
	if fromFile(s.Volatile) {
		c.Volatile = s.Volatile.Value.String()
	}
	return nil
}

// applyMounts replaces the custom mounts with the file's when it won them.
func applyMounts(c *Config, s *nspawnsettings.Settings) error {
	if fromFile(s.Bind) || fromFile(s.BindReadOnly) {
		c.Binds = nil
		for i, list := range [][]nspawnsettings.BindMount{s.Bind.Value, s.BindReadOnly.Value} {
			for _, m := range list {
				b, err := ParseBind(m.String(), i == 1)
				if err != nil {
					return err
				}
				c.Binds = append(c.Binds, b)
			}
		}
	}
	if fromFile(s.TemporaryFileSystem) {
		c.TmpFS = nil
		for _, t := range s.TemporaryFileSystem.Value {
			v, err := ParseTmpFS(t.String())
			if err != nil {
				return err
			}
			c.TmpFS = append(c.TmpFS, v)
		}
	}
	if fromFile(s.Inaccessible) {
		c.Inaccessible = s.Inaccessible.Value
	}
	if fromFile(s.Overlay) || fromFile(s.OverlayReadOnly) {
		c.Overlays = nil
		for i, list := range [][]nspawnsettings.OverlayMount{s.Overlay.Value, s.OverlayReadOnly.Value} {
			for _, m := range list {
				o, err := ParseOverlay(m.String(), i == 1)
				if err != nil {
					return err
				}
				c.Overlays = append(c.Overlays, o)
			}
		}
	}
	return nil
}

// applyUsers applies the user namespace settings and validates them with
// the rest again.
func applyUsers(c *Config, s *nspawnsettings.Settings) error {
	var err error
	if fromFile(s.PrivateUsers) {
		if c.PrivateUsers, err = privusers.ParseUsers(s.PrivateUsers.Value.String()); err != nil {
			return err
		}
	}
	switch {
	case fromFile(s.PrivateUsersOwnership):
		if c.PrivateUsersOwnership, err = privusers.ParseOwnership(s.PrivateUsersOwnership.Value.String()); err != nil {
			return err
		}
	case fromFile(s.PrivateUsersChown) && s.PrivateUsersChown.Value:
		c.PrivateUsersOwnership = privusers.OwnershipChown
	}
	volatile := c.Volatile != VolatileNo || c.Ephemeral
	if err := privusers.Validate(c.PrivateUsers, c.PrivateUsersOwnership, c.ReadOnly, volatile); err != nil {
		return err
	}
	var u usersFlags
	return u.checkBinds(c)
}
