package lifecycle

import (
	"fmt"

	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/unitgen"
)

// Command returns the command line machine's unit runs when it is started
// now: the ExecStart of the unit StartMachine generates (template, saved
// settings and the guest's stop signal folded in). It starts nothing.
func (m *Manager) Command(machine string) ([]string, error) {
	if err := names.ValidMachine(machine); err != nil {
		return nil, fmt.Errorf("command of %s: %w", machine, err)
	}
	img, err := m.images.Find(machine)
	if err != nil {
		return nil, fmt.Errorf("command of %s: %w", machine, err)
	}
	s, err := m.Settings(machine)
	if err != nil {
		return nil, fmt.Errorf("command of %s: %w", machine, err)
	}
	tmpl, err := m.template()
	if err != nil {
		return nil, fmt.Errorf("command of %s: %w", machine, err)
	}
	u, err := unitgen.Generate(tmpl, s.unitSettings(machine, m.signals(img, s).PowerOff, m.host))
	if err != nil {
		return nil, fmt.Errorf("command of %s: %w", machine, err)
	}
	return u.ExecStart, nil
}
