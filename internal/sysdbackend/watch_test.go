package sysdbackend

import (
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/buslabel"
)

// TestUnitChange reads PropertiesChanged signals of units as Watch
// receives them.
func TestUnitChange(t *testing.T) {
	unitPath := func(unit string) dbus.ObjectPath { return dbus.ObjectPath(unitPathPrefix + buslabel.Escape(unit)) }
	changed := func(path dbus.ObjectPath, props map[string]dbus.Variant) *dbus.Signal {
		return &dbus.Signal{Path: path, Name: "org.freedesktop.DBus.Properties.PropertiesChanged",
			Body: []any{"org.freedesktop.systemd1.Unit", props, []string{}}}
	}
	active := func(s string) map[string]dbus.Variant {
		return map[string]dbus.Variant{"ActiveState": dbus.MakeVariant(s), "SubState": dbus.MakeVariant("x")}
	}
	type result struct {
		Machine, State string
		OK             bool
	}
	tests := []struct {
		name string
		sig  *dbus.Signal
		want result
	}{
		{"transient unit active", changed(unitPath("berth-machine@bb-1.service"), active("active")), result{"bb-1", "running", true}},
		{"boot unit activating", changed(unitPath("berth-nspawn@web.service"), active("activating")), result{"web", "opening", true}},
		{"unit gone", changed(unitPath("berth-machine@bb.service"), active("inactive")), result{"bb", "", true}},
		{"other unit", changed(unitPath("modprobe@tun.service"), active("active")), result{}},
		{"no ActiveState", changed(unitPath("berth-machine@bb.service"), map[string]dbus.Variant{"SubState": dbus.MakeVariant("running")}), result{}},
		{"ActiveState not a string", changed(unitPath("berth-machine@bb.service"), map[string]dbus.Variant{"ActiveState": dbus.MakeVariant(uint32(1))}), result{}},
		{"not a unit object", changed("/org/freedesktop/systemd1/job/7", active("active")), result{}},
		{"short body", &dbus.Signal{Path: unitPath("berth-machine@bb.service"), Body: []any{"org.freedesktop.systemd1.Unit"}}, result{}},
		{"body of another type", &dbus.Signal{Path: unitPath("berth-machine@bb.service"), Body: []any{"x", "y"}}, result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, st, ok := unitChange(tt.sig)
			if diff := cmp.Diff(tt.want, result{m, st, ok}); diff != "" {
				t.Errorf("unitChange (-want +got):\n%s", diff)
			}
		})
	}
}
