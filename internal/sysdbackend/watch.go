package sysdbackend

import (
	"context"
	"fmt"

	sdbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/berth-dev/berth/internal/unitgen"
)

// Watch calls changed with a machine and its State (MachineState of its
// unit's new ActiveState; "" once it no longer runs) each time the
// ActiveState of one of its units changes, from one goroutine, until ctx
// ends. It subscribes the connection to systemd's signals.
func (b *Backend) Watch(ctx context.Context, changed func(machine, state string)) error {
	if err := b.conn.Subscribe(); err != nil {
		return fmt.Errorf("watch units: %w", err)
	}
	updates := make(chan *sdbus.PropertiesUpdate, 1024)
	b.conn.SetPropertiesSubscriber(updates, make(chan error, 1))
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case u := <-updates:
				machine, ok := unitgen.MachineOf(u.UnitName)
				v, has := u.Changed["ActiveState"]
				if s, isString := v.Value().(string); ok && has && isString {
					changed(machine, MachineState(s))
				}
			}
		}
	}()
	return nil
}
