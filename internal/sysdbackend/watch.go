package sysdbackend

import (
	"context"
	"fmt"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/buslabel"
	"github.com/berth-dev/berth/internal/dbuswire"
	"github.com/berth-dev/berth/internal/unitgen"
)

// unitPathPrefix is the start of a unit's object path; the rest is the
// unit name, escaped as a bus label.
const unitPathPrefix = "/org/freedesktop/systemd1/unit/"

// unitChangeMatch selects the signals Watch needs: a unit's
// PropertiesChanged of the org.freedesktop.systemd1.Unit interface, the
// one that carries ActiveState. The interface-specific twin systemd sends
// with every change (org.freedesktop.systemd1.Service and so on, the
// larger of the two) and the Manager's UnitNew are not delivered at all.
var unitChangeMatch = []dbus.MatchOption{
	dbus.WithMatchSender("org.freedesktop.systemd1"),
	dbus.WithMatchInterface("org.freedesktop.DBus.Properties"),
	dbus.WithMatchMember("PropertiesChanged"),
	dbus.WithMatchPathNamespace(dbus.ObjectPath(strings.TrimSuffix(unitPathPrefix, "/"))),
	dbus.WithMatchArg(0, "org.freedesktop.systemd1.Unit"),
}

// Watch calls changed with a machine and its State (MachineState of its
// unit's new ActiveState; "" once it no longer runs) each time the
// ActiveState of one of its units changes, from one goroutine, until ctx
// ends or the backend is closed. It subscribes a bus connection of its own
// to systemd's signals, matching only what it reads: go-systemd's
// subscription would deliver every unit's PropertiesChanged of every
// interface, and make one GetUnit call to systemd for each ended job
// before it passes on the next signal. After changed, a machine's change
// to running also ends the wait of its start (Start). Call it once.
func (b *Backend) Watch(ctx context.Context, changed func(machine, state string)) error {
	conn, err := dialSystemBus(wanted)
	if err != nil {
		return fmt.Errorf("watch units: %w", err)
	}
	signals := make(chan *dbus.Signal, 1024)
	conn.Signal(signals)
	if err := conn.AddMatchSignal(unitChangeMatch...); err != nil {
		conn.Close()
		return fmt.Errorf("watch units: %w", err)
	}
	systemd := conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
	if err := systemd.CallWithContext(ctx, "org.freedesktop.systemd1.Manager.Subscribe", 0).Store(); err != nil {
		conn.Close()
		return fmt.Errorf("watch units: %w", err)
	}
	b.mu.Lock()
	b.watch = conn
	b.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	go func() {
		defer stop()
		for s := range signals {
			if machine, state, ok := unitChange(s); ok {
				changed(machine, state)
				if state == "running" {
					b.running(machine)
				}
			}
		}
	}()
	return nil
}

// wanted reports whether Watch's connection hands msg to godbus: all
// but the signals of units other than machine units, which the match
// rule cannot leave out (it matches no prefix of a path, and systemd
// names each unit's object after the unit). The rest are dropped
// before they are decoded.
func wanted(msg []byte) bool {
	if msg[1] != dbuswire.TypeSignal {
		return true
	}
	path, err := dbuswire.PathAlias(msg)
	if err != nil {
		return true // godbus's to refuse
	}
	label, isUnit := strings.CutPrefix(path, unitPathPrefix)
	if !isUnit {
		return true
	}
	_, ok := unitgen.MachineOf(buslabel.Unescape(label))
	return ok
}

// unitChange reads a PropertiesChanged signal of a unit: the machine of
// a machine unit and the State of the ActiveState it changed to; ok is
// false for other units and for changes that leave ActiveState alone.
func unitChange(s *dbus.Signal) (machine, state string, ok bool) {
	label, isUnit := strings.CutPrefix(string(s.Path), unitPathPrefix)
	if !isUnit || len(s.Body) < 2 {
		return "", "", false
	}
	machine, ok = unitgen.MachineOf(buslabel.Unescape(label))
	if !ok {
		return "", "", false
	}
	props, isMap := s.Body[1].(map[string]dbus.Variant)
	v, has := props["ActiveState"]
	active, isString := v.Value().(string)
	if !isMap || !has || !isString {
		return "", "", false
	}
	return machine, MachineState(active), true
}
