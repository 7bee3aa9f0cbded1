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
// ActiveState of one of its units changes, until ctx ends or the
// backend is closed. It subscribes a bus connection of its own to
// systemd's signals, matching only what it reads: go-systemd's
// subscription would deliver every unit's PropertiesChanged of every
// interface, and make one GetUnit call to systemd for each ended job
// before it passes on the next signal. After changed, a machine's change
// to running also ends the wait of its start (Start). Call it once.
//
// The connection's reader, one goroutine, reads the signals itself
// (watchKeep) and calls changed: the calls never overlap, they may come
// before Watch returns, and while one runs the connection reads
// nothing, so changed must return soon and must not wait for Watch or
// anything else that waits for this connection.
func (b *Backend) Watch(ctx context.Context, changed func(machine, state string)) error {
	follow := func(machine, state string) {
		changed(machine, state)
		if state == "running" {
			b.running(machine) // after changed: the start returns with the State set
		}
	}
	conn, err := dialSystemBus(watchKeep(follow))
	if err != nil {
		return fmt.Errorf("watch units: %w", err)
	}
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
	context.AfterFunc(ctx, func() { conn.Close() })
	return nil
}

// watchKeep returns the keep function of Watch's connection
// (newBusStream). It takes every signal of a unit from godbus, which
// would decode each whole, by reflection, for the one property Watch
// reads: it calls changed for each change unitChange finds and drops
// the signal, as it drops those of units other than machine units,
// which the match rule cannot leave out (it matches no prefix of a
// path, and systemd names each unit's object after the unit). godbus
// gets the rest: the replies to Watch's calls and the bus's messages.
func watchKeep(changed func(machine, state string)) func(msg []byte) bool {
	return func(msg []byte) bool {
		if msg[1] != dbuswire.TypeSignal {
			return true
		}
		path, err := dbuswire.PathAlias(msg)
		if err != nil {
			return true // godbus's to refuse
		}
		if !strings.HasPrefix(path, unitPathPrefix) {
			return true
		}
		if machine, state, ok := unitChange(msg); ok {
			changed(machine, state)
		}
		return false
	}
}

// unitChange reads a whole message: if it is a PropertiesChanged signal
// of the org.freedesktop.systemd1.Unit interface of a machine unit that
// sets ActiveState, it returns the machine and the State of the new
// ActiveState; ok is false for other units and messages, for changes
// that leave ActiveState alone and for malformed messages. It builds no
// value but the machine's name, a string of its own (msg is a buffer
// the connection reuses).
func unitChange(msg []byte) (machine, state string, ok bool) {
	path, err := dbuswire.PathAlias(msg)
	label, isUnit := strings.CutPrefix(path, unitPathPrefix)
	if err != nil || !isUnit {
		return "", "", false
	}
	// Unescape builds a new string: machine does not alias msg. Only a
	// machine unit's message is parsed, so the paths of other units do
	// not crowd Parse's table of header strings.
	machine, ok = unitgen.MachineOf(buslabel.Unescape(label))
	if !ok {
		return "", "", false
	}
	m, err := dbuswire.Parse(msg)
	if err != nil || m.Type != dbuswire.TypeSignal || m.Interface != "org.freedesktop.DBus.Properties" ||
		m.Member != "PropertiesChanged" || m.Signature != "sa{sv}as" {
		return "", "", false
	}
	d := m.Args()
	if d.StrAlias() != "org.freedesktop.systemd1.Unit" {
		return "", "", false
	}
	active, has := activeState(&d)
	if d.Skip("as"); !has || !d.Done() {
		return "", "", false
	}
	return machine, MachineState(active), true
}

// activeState reads an a{sv} of properties and returns the string value
// of its last ActiveState, aliasing d's bytes; has is false if there is
// none, if it is not a string, or if the array is malformed. The other
// properties are skipped without being decoded.
func activeState(d *dbuswire.Decoder) (active string, has bool) {
	props := d.Array(8)
	for props.Len() > 0 && props.Err() == nil {
		props.Align(8)
		if props.StrAlias() != "ActiveState" {
			props.Skip("v")
			continue
		}
		sig := props.Sig()
		if has = sig == "s"; has {
			active = props.StrAlias()
		} else {
			props.Skip(sig)
		}
	}
	return active, has && props.Err() == nil
}
