package main

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/machine"
)

// countingObserver counts the changes passed on to it.
type countingObserver struct{ n int }

func (c *countingObserver) MachineNew(machine.Machine)     { c.n++ }
func (c *countingObserver) MachineRemoved(machine.Machine) { c.n++ }
func (c *countingObserver) StateChanged(machine.Machine)   { c.n++ }

// TestIdleTrimmer checks that every change is passed on at once and that
// a burst of changes is followed by a trim once it has gone quiet.
func TestIdleTrimmer(t *testing.T) {
	next := &countingObserver{}
	trims := make(chan struct{}, 10)
	tr := newTrimmer(next, func() { trims <- struct{}{} })
	m := machine.Machine{}
	for range 100 {
		tr.MachineNew(m)
		tr.StateChanged(m)
		tr.MachineRemoved(m)
	}
	if next.n != 300 {
		t.Fatalf("passed on %d changes, want 300", next.n)
	}
	select {
	case <-trims:
	case <-time.After(time.Minute):
		t.Fatal("no trim after the burst went quiet")
	}
}

// TestFreeOSMemoryKeepsGOMAXPROCS checks that the trim leaves GOMAXPROCS
// as it found it.
func TestFreeOSMemoryKeepsGOMAXPROCS(t *testing.T) {
	n := runtime.GOMAXPROCS(0)
	freeOSMemory()
	if got := runtime.GOMAXPROCS(0); got != n {
		t.Errorf("GOMAXPROCS = %d after the trim, want %d", got, n)
	}
}

// TestSettleCollects checks that settle runs settleCycles garbage
// collections, so berthd pays the first collections' set-up before it
// serves.
func TestSettleCollects(t *testing.T) {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	settle()
	metrics.Read(s)
	if got := s[0].Value.Uint64(); got < before+settleCycles {
		t.Errorf("forced collections: %d before settle, %d after, want %d more", before, got, settleCycles)
	}
}

// TestFreeOSMemoryReleases checks that the trim hands a burst's garbage
// back to the system, at one P and at several: 16 MiB is allocated and
// held, then dropped, and at most 4 MiB may stay free but resident (each
// P's page cache holds up to 64 pages of 8 KiB, and the runtime's own
// allocations during the trim refill them: 1.5 MiB was seen once at 4
// Ps). A trim that only collected would leave about 16 MiB.
func TestFreeOSMemoryReleases(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			runtime.GOMAXPROCS(procs)
			held := make([][][]byte, procs)
			var wg sync.WaitGroup
			for i := range procs {
				wg.Go(func() {
					for range (16 << 20) / procs / 4096 {
						held[i] = append(held[i], make([]byte, 4096))
					}
				})
			}
			wg.Wait()
			runtime.KeepAlive(held)
			held = nil
			freeOSMemory()
			s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
			metrics.Read(s)
			if got, limit := s[0].Value.Uint64(), uint64(4<<20); got > limit {
				t.Errorf("%d bytes free and resident after the trim, want at most %d", got, limit)
			}
		})
	}
}
