package supervisor

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// rawEvent encodes one inotify event as the kernel does: the header, then
// the name padded with NULs to padTo bytes.
func rawEvent(wd int32, mask uint32, name string, padTo int) []byte {
	b := make([]byte, unix.SizeofInotifyEvent+padTo)
	binary.NativeEndian.PutUint32(b[0:], uint32(wd))
	binary.NativeEndian.PutUint32(b[4:], mask)
	binary.NativeEndian.PutUint32(b[12:], uint32(padTo))
	copy(b[unix.SizeofInotifyEvent:], name)
	return b
}

func TestParseEvents(t *testing.T) {
	two := append(rawEvent(1, unix.IN_CREATE|unix.IN_ISDIR, "berth-machine@a.service", 32), rawEvent(2, unix.IN_MOVED_TO, statusFile, 16)...)
	tests := []struct {
		name string
		in   []byte
		want []event
	}{
		{"empty", nil, nil},
		{"two", two, []event{
			{wd: 1, mask: unix.IN_CREATE | unix.IN_ISDIR, name: "berth-machine@a.service"},
			{wd: 2, mask: unix.IN_MOVED_TO, name: statusFile},
		}},
		{"no name", rawEvent(3, unix.IN_IGNORED, "", 0), []event{{wd: 3, mask: unix.IN_IGNORED}}},
		{"truncated", two[:len(two)-4], []event{{wd: 1, mask: unix.IN_CREATE | unix.IN_ISDIR, name: "berth-machine@a.service"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, parseEvents(tt.in), cmp.AllowUnexported(event{})); diff != "" {
				t.Errorf("parseEvents (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIntegrationWatch follows one unit through Watch from start to
// stop: Watch reports it active once it runs, then down once stopped, and
// never a state out of order.
func TestIntegrationWatch(t *testing.T) {
	b := newBed(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	states := make(chan State, 64)
	u := b.unit("watched", "sleep", "1000")
	if err := b.s.Watch(ctx, func(st Status) {
		if st.Unit == u.Name {
			states <- st.State
		}
	}); err != nil {
		t.Fatal(err)
	}
	var seen []State
	until := func(done func(State) bool) {
		t.Helper()
		for timeout := time.After(time.Minute); ; {
			select {
			case st := <-states:
				seen = append(seen, st)
				if done(st) {
					return
				}
			case <-timeout:
				t.Fatalf("states %v", seen)
			}
		}
	}
	if err := b.s.Start(ctx, u); err != nil {
		t.Fatal(err)
	}
	until(func(st State) bool { return st == Active })
	if err := b.s.Stop(ctx, u.Name, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	until(func(st State) bool { return st == Inactive || st == Failed })
	order := map[State]int{Activating: 0, Active: 1, Deactivating: 2, Inactive: 3, Failed: 3}
	for i := 1; i < len(seen); i++ {
		if order[seen[i]] < order[seen[i-1]] {
			t.Errorf("states out of order: %v", seen)
		}
	}
}
