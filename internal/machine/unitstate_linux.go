//go:build linux

package machine

import "fmt"

// SetState sets a registered machine's State, as berthd does when the
// machine's unit changes state (opening while it starts, running once it
// is up, closing while it stops). It returns the machine and whether its
// State changed; telling the Observer is the caller's job, so that a
// caller inside Observer.MachineNew can set the first State before the
// machine is announced.
func (r *Registry) SetState(name string, s State) (Machine, bool, error) {
	switch s {
	case StateOpening, StateRunning, StateClosing:
	default:
		return Machine{}, false, fmt.Errorf("set state of %s: state %q: %w", name, s, ErrInvalid)
	}
	e, err := r.lookup(name)
	if err != nil {
		return Machine{}, false, fmt.Errorf("set state: %w", err)
	}
	m, changed := r.setState(e, s)
	return m, changed, nil
}
