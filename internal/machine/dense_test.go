package machine

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDenseKeep stores machines in compact entries and checks each
// snapshot gives back what was stored, whatever the size of its strings,
// and that the stored strings share no memory with the caller's.
func TestDenseKeep(t *testing.T) {
	id := []byte("0123456789abcdef")
	for _, tc := range []struct {
		name   string
		m      Machine
		cgroup string
	}{
		{"minimal", Machine{Spec: Spec{Name: "a", Leader: 7}, State: StateOpening}, ""},
		{"full", Machine{Spec: Spec{Name: "full-1", ID: id, Service: "nspawn", Class: ClassVM, Leader: 42,
			RootDirectory: "/var/lib/machines/full-1", NetworkInterfaces: []int32{3, 9}},
			Unit: "machine-full\\x2d1.scope", State: StateClosing, Timestamp: 1, TimestampMonotonic: 2},
			"/machine.slice/machine-full\\x2d1.scope"},
		{"large", Machine{Spec: Spec{Name: strings.Repeat("n", 64), Class: ClassContainer, Leader: 9,
			RootDirectory: "/" + strings.Repeat("r", MaxPathLen-1), Service: strings.Repeat("s", MaxServiceLen)},
			Unit: strings.Repeat("u", 255) + ".scope", State: StateRunning}, "/" + strings.Repeat("g", 300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d dense
			e := d.entry()
			e.leader.PID = tc.m.Leader
			buf := []byte(tc.m.Name)
			tc.m.Name = string(buf)
			d.keep(e, tc.m, tc.cgroup)
			got := e.machine()
			if diff := cmp.Diff(tc.m, got); diff != "" {
				t.Errorf("machine (-want +got):\n%s", diff)
			}
			if e.name() != tc.m.Name || e.cgroup() != tc.cgroup || e.class() != tc.m.Class || e.stateLocked() != tc.m.State {
				t.Errorf("accessors: %q %q %q %q", e.name(), e.cgroup(), e.class(), e.stateLocked())
			}
			if len(tc.m.ID) > 0 && &got.ID[0] == &tc.m.ID[0] {
				t.Error("the stored ID shares the caller's memory")
			}
			e.setStateLocked(StateClosing)
			if e.machine().State != StateClosing {
				t.Errorf("state after setStateLocked = %q", e.machine().State)
			}
		})
	}
}

// TestDenseChunks checks entries come from shared chunks and never repeat.
func TestDenseChunks(t *testing.T) {
	var d dense
	seen := map[*entry]bool{}
	for i := 0; i < 3*entriesPerChunk; i++ {
		e := d.entry()
		if seen[e] {
			t.Fatalf("entry %d handed out twice", i)
		}
		seen[e] = true
	}
}
