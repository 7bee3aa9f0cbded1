package testbed

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAdaptTemplate(t *testing.T) {
	tmpl := "[Service]\nExecStart=@BINDIR@/berth-nspawn --boot -U --machine=%i\nKillMode=mixed\n"
	tests := []struct {
		name, bus, want string
	}{
		{"no bus", "", "[Service]\nExecStart=/b/berth-nspawn --boot -U --machine=%i\nKillMode=mixed\n"},
		{"bus", "unix:path=/x%y",
			"[Service]\nEnvironment=DBUS_SYSTEM_BUS_ADDRESS=unix:path=/x%%y\nExecStart=/b/berth-nspawn --boot -U --machine=%i\nKillMode=mixed\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, AdaptTemplate(tmpl, "/b", tc.bus)); diff != "" {
				t.Errorf("AdaptTemplate (-want +got):\n%s", diff)
			}
		})
	}
}
