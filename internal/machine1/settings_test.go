package machine1

import (
	"errors"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/lifecycle"
	"github.com/berth-dev/berth/internal/unitgen"
)

func TestApplySettings(t *testing.T) {
	base := lifecycle.Settings{Limits: unitgen.Limits{CPUWeight: 50}, Environment: []string{"A=1"}}
	v := dbus.MakeVariant
	tests := []struct {
		name    string
		changes map[string]dbus.Variant
		want    lifecycle.Settings
		bad     bool
	}{
		{"none", nil, base, false},
		{"limits", map[string]dbus.Variant{"MemoryMax": v(uint64(1 << 30)), "TasksMax": v(uint64(unitgen.Infinity))},
			lifecycle.Settings{Limits: unitgen.Limits{CPUWeight: 50, MemoryMax: 1 << 30, TasksMax: unitgen.Infinity}, Environment: []string{"A=1"}}, false},
		{"reset", map[string]dbus.Variant{"CPUWeight": v(uint64(0)), "Environment": v([]string{})},
			lifecycle.Settings{Environment: []string{}}, false},
		{"signals and timeout", map[string]dbus.Variant{"PowerOffSignal": v(int32(unix.SIGUSR2)), "TimeoutStopUSec": v(uint64(5e6))},
			lifecycle.Settings{Limits: base.Limits, Environment: base.Environment, PowerOffSignal: unix.SIGUSR2, TimeoutStop: 5 * time.Second}, false},
		{"unknown key", map[string]dbus.Variant{"Memory": v(uint64(1))}, base, true},
		{"wrong type", map[string]dbus.Variant{"KillSignal": v(uint32(15))}, base, true},
		{"timeout overflow", map[string]dbus.Variant{"TimeoutStopUSec": v(^uint64(0))}, base, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := applySettings(base, tt.changes)
			if tt.bad {
				if !errors.Is(err, errInvalidArgs) {
					t.Fatalf("err = %v, want InvalidArgs", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			back := settingsToBus(got)
			again, err := applySettings(lifecycle.Settings{}, back)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(values(settingsToBus(got)), values(settingsToBus(again))); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func values(m map[string]dbus.Variant) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v.Value()
	}
	return out
}
