package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/unitgen"
)

// Settings are a machine's own lifecycle settings, kept under
// paths.State across restarts. Zero values keep the template's (or the
// detected) defaults.
type Settings struct {
	// Limits are the resource limits.
	Limits unitgen.Limits `json:",omitempty"`
	// PowerOffSignal and RebootSignal override the signals chosen from the
	// guest's init.
	PowerOffSignal unix.Signal `json:",omitempty"`
	RebootSignal   unix.Signal `json:",omitempty"`
	// KillSignal overrides the unit's KillSignal= (sent to berth-nspawn).
	KillSignal unix.Signal `json:",omitempty"`
	// TimeoutStop overrides TimeoutStopSec=.
	TimeoutStop time.Duration `json:",omitempty"`
	// Environment is added to berth-nspawn's environment.
	Environment []string `json:",omitempty"`
}

// timeoutStop is how long PowerOff waits for the guest before escalating.
func (s Settings) timeoutStop() time.Duration {
	if s.TimeoutStop > 0 {
		return s.TimeoutStop
	}
	return unitgen.DefaultTimeoutStop
}

func (s Settings) unitSettings(machine string, guestStop unix.Signal, h unitgen.Host) unitgen.Settings {
	return unitgen.Settings{
		Machine: machine, Limits: s.Limits, KillSignal: s.KillSignal, GuestStopSignal: guestStop,
		TimeoutStop: s.TimeoutStop, Environment: s.Environment, Host: h,
	}
}

func (m *Manager) settingsFile(machine string) string {
	return filepath.Join(m.p.State, "lifecycle", machine+".json")
}

// Settings returns machine's saved settings (zero when none were saved).
func (m *Manager) Settings(machine string) (Settings, error) {
	if err := names.ValidMachine(machine); err != nil {
		return Settings{}, err
	}
	b, err := os.ReadFile(m.settingsFile(machine))
	if errors.Is(err, fs.ErrNotExist) {
		return Settings{}, nil
	}
	if err != nil {
		return Settings{}, fmt.Errorf("settings of %s: %w", machine, err)
	}
	return parseSettings(b)
}

// parseSettings decodes a settings file and validates it.
func parseSettings(b []byte) (Settings, error) {
	var s Settings
	if err := json.Unmarshal(b, &s); err != nil {
		return Settings{}, fmt.Errorf("settings: %w", err)
	}
	if _, err := unitgen.DropIn(s.unitSettings("m", 0, unitgen.Host{})); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// SetSettings validates and saves machine's settings atomically. They
// apply from the machine's next start (and, for an enabled machine, from
// the next Enable, which rewrites its drop-in).
func (m *Manager) SetSettings(machine string, s Settings) error {
	if err := names.ValidMachine(machine); err != nil {
		return err
	}
	if _, err := unitgen.DropIn(s.unitSettings(machine, 0, m.host)); err != nil {
		return fmt.Errorf("set settings of %s: %w", machine, err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	file := m.settingsFile(machine)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("set settings of %s: %w", machine, err)
	}
	return os.Rename(tmp, file)
}
