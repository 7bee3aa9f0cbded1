package main

import (
	"runtime"
	"runtime/metrics"
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

// TestSettleCollects checks that settle runs a garbage collection, so
// berthd pays the first collection's set-up before it serves.
func TestSettleCollects(t *testing.T) {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	settle()
	metrics.Read(s)
	if got := s[0].Value.Uint64(); got <= before {
		t.Errorf("forced collections: %d before settle, %d after", before, got)
	}
}
