package privusers

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationMayMap checks the early guess on an image owned by 0.
func TestIntegrationMayMap(t *testing.T) {
	image := testbed.BusyboxImage(t)
	tests := []struct {
		name string
		u    Users
		o    Ownership
		want bool
	}{
		{"no user namespace", Users{Mode: ModeNo}, OwnershipDefault, false},
		{"pick, auto", Users{Mode: ModePick, Range: RangeSize}, OwnershipDefault, true},
		{"pick, chown", Users{Mode: ModePick, Range: RangeSize}, OwnershipChown, false},
		{"fixed, off", Users{Mode: ModeFixed, Shift: 0x80000, Range: RangeSize}, OwnershipDefault, false},
		{"fixed, map", Users{Mode: ModeFixed, Shift: 0x80000, Range: RangeSize}, OwnershipMap, true},
		{"fixed, auto", Users{Mode: ModeFixed, Shift: 0x80000, Range: RangeSize}, OwnershipAuto, true},
		{"identity, auto", Users{Mode: ModeIdentity, Range: RangeSize}, OwnershipAuto, false},
		{"yes, auto", Users{Mode: ModeYes, Range: RangeSize}, OwnershipAuto, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, MayMap(tt.u, tt.o, image)); diff != "" {
				t.Errorf("MayMap (-want +got):\n%s", diff)
			}
		})
	}
}
