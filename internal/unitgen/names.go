package unitgen

import (
	"fmt"
	"strings"

	"github.com/berth-dev/berth/internal/names"
)

const (
	// Template is the file name of the installed unit template.
	Template = "berth-nspawn@.service"
	// Target is the unit enabled machines are wanted by.
	Target = "berth-machines.target"
	// bootPrefix and runPrefix are the prefixes of the two unit names.
	bootPrefix = "berth-nspawn"
	runPrefix  = "berth-machine"
)

// UnitName returns the name of the transient unit berthd starts machine in.
func UnitName(machine string) (string, error) {
	if err := names.ValidMachine(machine); err != nil {
		return "", fmt.Errorf("unit name: %w", err)
	}
	return runPrefix + "@" + machine + ".service", nil
}

// BootUnitName returns the name of the template instance systemd starts
// an enabled machine in at boot.
func BootUnitName(machine string) (string, error) {
	if err := names.ValidMachine(machine); err != nil {
		return "", fmt.Errorf("boot unit name: %w", err)
	}
	return bootPrefix + "@" + machine + ".service", nil
}

// Names returns both unit names a machine may run under, transient first.
func Names(machine string) ([]string, error) {
	run, err := UnitName(machine)
	if err != nil {
		return nil, err
	}
	boot, _ := BootUnitName(machine)
	return []string{run, boot}, nil
}

// MachineOf returns the machine a unit name belongs to, and false for a
// unit that is not one of berth's machine units.
func MachineOf(unit string) (string, bool) {
	for _, p := range []string{runPrefix, bootPrefix} {
		rest, ok := strings.CutPrefix(unit, p+"@")
		if !ok {
			continue
		}
		m, ok := strings.CutSuffix(rest, ".service")
		if ok && names.ValidMachine(m) == nil {
			return m, true
		}
	}
	return "", false
}
