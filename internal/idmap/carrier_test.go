package idmap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/berth-dev/berth/internal/uidrange"
)

// children lists the PIDs of the children of every thread of the test
// process.
func children(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		out.Write(data)
	}
	return strings.TrimSpace(out.String())
}

// TestIntegrationCarrier maps a carrier started early, and one made at
// Map time (NewCarrier), and closes ones that are not needed; they leave
// no process behind, and a carrier maps once.
func TestIntegrationCarrier(t *testing.T) {
	testbed.RequireRoot(t)
	ms := RootMappings(uidrange.Range{Base: 0x80000, Size: uidrange.Size})
	tests := []struct {
		name string
		new  func() *Carrier
		use  bool
	}{
		{"early mapped", StartCarrier, true},
		{"early closed", StartCarrier, false},
		{"lazy mapped", func() *Carrier { return NewCarrier(startTraced) }, true},
		{"lazy closed", func() *Carrier { return NewCarrier(startTraced) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.new()
			if tt.use {
				ns, err := c.Map(ms, ms)
				if err != nil {
					t.Fatal(err)
				}
				defer ns.Close()
				if _, err := c.Map(ms, ms); err == nil {
					t.Error("second Map succeeded")
				}
			}
			c.Close()
			c.Close()
			if got := children(t); got != "" {
				t.Errorf("children left: %q", got)
			}
		})
	}
}

// TestIntegrationCarrierMapping checks the mapping the namespace got.
func TestIntegrationCarrierMapping(t *testing.T) {
	testbed.RequireRoot(t)
	ms := []Mapping{{Inner: 0, Outer: 0x90000, Size: 0x10000}, {Inner: 0x10000, Outer: 0xA0000, Size: 1}}
	ns, err := StartCarrier().Map(ms, ms)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	checkMapping(t, ns, 0x90000)
}

// checkMapping fails t unless a file owned by 0:0, seen through an
// idmapped mount of ns, is owned by want:want.
func checkMapping(t *testing.T, ns *UserNS, want uint32) {
	t.Helper()
	target := t.TempDir()
	src := t.TempDir()
	if err := os.WriteFile(src+"/file", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Mount(src, target, ns, false); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(target, unix.MNT_DETACH)
	if diff := cmp.Diff([2]uint32{want, want}, owner(t, target+"/file")); diff != "" {
		t.Errorf("owner through the mapping (-want +got):\n%s", diff)
	}
}
