package netdiag

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiagnose(t *testing.T) {
	healthy := Facts{Link: "ve-a", Exists: true, Up: true, Managed: true, ActiveLeases: 1, IPv4Forwarding: true, Masqueraded: true}
	tests := []struct {
		name string
		mod  func(*Facts)
		want []string
	}{
		{"healthy", func(*Facts) {}, nil},
		{"missing", func(f *Facts) { f.Exists = false }, []string{NoLink}},
		{"down", func(f *Facts) { f.Up = false }, []string{LinkDown}},
		{"unmanaged", func(f *Facts) { f.Managed, f.ActiveLeases, f.Masqueraded = false, 0, false }, []string{NoAddress}},
		{"no lease", func(f *Facts) { f.ActiveLeases = 0 }, []string{NoLease}},
		{"no lease, drops", func(f *Facts) { f.ActiveLeases, f.Malformed = 0, 3 }, []string{NoLease, ServerUnhealthy}},
		{"forwarding", func(f *Facts) { f.IPv4Forwarding = false }, []string{ForwardingOff}},
		{"no masquerade", func(f *Facts) { f.Masqueraded = false }, []string{NoMasquerade}},
		{"firewall", func(f *Facts) { f.DroppingChains = []string{"ip filter FORWARD"} }, []string{FirewallDrops}},
		{"networkd", func(f *Facts) { f.Managers = []string{"systemd-networkd"} }, []string{OtherManager}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := healthy
			tt.mod(&f)
			var got []string
			for _, fd := range Diagnose(f) {
				got = append(got, fd.Code)
				if fd.Message == "" {
					t.Errorf("finding %s has no message", fd.Code)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("-want +got:\n%s", diff)
			}
		})
	}
}
