package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/internal/unitgen"
)

// State is a unit's state, named as systemd's ActiveState.
type State string

// The states of a supervised unit.
const (
	Activating   State = "activating"
	Active       State = "active"
	Restarting   State = "restarting" // between an exit 133 and the next start
	Deactivating State = "deactivating"
	Inactive     State = "inactive"
	Failed       State = "failed"
)

// MachineState maps s to machine1's machine State: "opening", "running",
// "closing", or "" when the machine is not running.
func (s State) MachineState() string {
	switch s {
	case Activating, Restarting:
		return "opening"
	case Active:
		return "running"
	case Deactivating:
		return "closing"
	}
	return ""
}

// Status is what the supervisor knows about one unit. The monitor writes
// it to the unit's run directory at every transition.
type Status struct {
	// Unit is the unit name; Machine the machine name.
	Unit, Machine string
	// State is the current state.
	State State
	// Result is systemd's result of the last run: "success", "exit-code",
	// "signal", "timeout", "start-limit-hit" or "resources".
	Result string `json:",omitempty"`
	// ExitCode and ExitSignal describe how the last main process ended.
	ExitCode, ExitSignal int `json:",omitempty"`
	// MainPID is the payload's PID (0 when none runs), MainStart its
	// start time.
	MainPID   int    `json:",omitempty"`
	MainStart uint64 `json:",omitempty"`
	// MonitorPID and MonitorStart identify the unit's monitor process
	// (start time in clock ticks since boot, against PID reuse).
	MonitorPID   int    `json:",omitempty"`
	MonitorStart uint64 `json:",omitempty"`
	// Restarts counts restarts on a RestartForceExitStatus= exit.
	Restarts int `json:",omitempty"`
	// Cgroup is the unit's cgroup directory in the tracking hierarchy.
	Cgroup string `json:",omitempty"`
	// CgroupDirs are its directories in every hierarchy, Cgroup first.
	CgroupDirs []string `json:",omitempty"`
	// Log is the machine's log file.
	Log string `json:",omitempty"`
	// Since is when State was entered.
	Since time.Time
}

// spec is what the supervisor hands a monitor.
type spec struct {
	Unit       unitgen.Unit
	Log        string
	CgroupRoot string
}

const (
	specFile   = "spec.json"
	statusFile = "status.json"
	lockFile   = "lock"
)

// writeJSON writes v to dir/name atomically.
func writeJSON(dir, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

// readStatus reads a unit's status; a missing file is a zero Status with
// State Inactive.
func readStatus(dir string) (Status, error) {
	b, err := os.ReadFile(filepath.Join(dir, statusFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Status{State: Inactive}, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("read status: %w", err)
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		return Status{}, fmt.Errorf("read status %s: %w", dir, err)
	}
	return st, nil
}
