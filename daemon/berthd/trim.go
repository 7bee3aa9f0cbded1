package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/berth-dev/berth/internal/machine"
)

// trimDelay is how long the registry must stay quiet after a change
// before berthd hands its free memory back to the system.
const trimDelay = 250 * time.Millisecond

// idleTrimmer passes registry changes on to next and, once a burst of
// them (a host starting its machines, say) has been quiet for trimDelay,
// returns the garbage of the burst to the system: berthd idles between
// bursts, and Go would otherwise keep that memory resident for minutes.
type idleTrimmer struct {
	next machine.Observer
	// timer runs the trim; each change pushes it back to trimDelay. A
	// timer waits without a goroutine of its own.
	timer *time.Timer
}

// freeOSMemory returns all free memory to the system. debug.FreeOSMemory
// alone leaves what the calling goroutine's P holds in its page cache
// (up to 64 pages, often touched, so resident): the collector flushes
// only idle Ps' caches. Dropping to one P and back flushes the others',
// and a second pass, with the caller back on a P that has not cached
// since, releases them.
func freeOSMemory() {
	debug.FreeOSMemory()
	if n := runtime.GOMAXPROCS(0); n > 1 {
		runtime.GOMAXPROCS(1)
		if os.Getenv("GOMAXPROCS") != "" {
			runtime.GOMAXPROCS(n)
		} else {
			runtime.SetDefaultGOMAXPROCS()
		}
		debug.FreeOSMemory()
	}
}

// settleCycles is how many garbage collections settle runs at least,
// the last in its trim. The collector keeps each cycle's mark bits
// in 64 KiB arenas that rotate through three roles and are cleared in
// full when reused: a fresh one is resident only as far as it is used,
// a reused one in full, and from the fifth cycle on all three are reused
// ones (three 64 KiB arenas, resident for good).
const settleCycles = 5

// settle runs berthd's first garbage collections once start-up is done
// (after the enabled machines' starts, whose garbage they collect too)
// and returns start-up's garbage to the system. The first collection sets
// up bookkeeping that stays (the runtime's sets of swept spans, about
// 400 KB with berthd's heap), and the mark bits' arenas fill within the
// first cycles; Go forces a collection every two minutes, so an idle
// berthd gets there within minutes anyway. Paid here, none of it is
// charged to the first machines, and berthd's idle memory from its start
// is what it keeps.
func settle() {
	for range settleCycles - 1 {
		runtime.GC()
	}
	freeOSMemory()
}

// newIdleTrimmer returns a trimmer that passes changes on to next and
// runs freeOSMemory after each burst of them.
func newIdleTrimmer(next machine.Observer) *idleTrimmer { return newTrimmer(next, freeOSMemory) }

// newTrimmer returns a trimmer that runs trim after each burst of changes.
func newTrimmer(next machine.Observer, trim func()) *idleTrimmer {
	timer := time.AfterFunc(trimDelay, trim)
	timer.Stop()
	return &idleTrimmer{next: next, timer: timer}
}

// poke notes a change: the trim runs trimDelay after the last one. It
// never blocks the registry.
func (t *idleTrimmer) poke() { t.timer.Reset(trimDelay) }

// MachineNew implements machine.Observer.
func (t *idleTrimmer) MachineNew(m machine.Machine) { t.next.MachineNew(m); t.poke() }

// MachineRemoved implements machine.Observer.
func (t *idleTrimmer) MachineRemoved(m machine.Machine) { t.next.MachineRemoved(m); t.poke() }

// StateChanged implements machine.Observer.
func (t *idleTrimmer) StateChanged(m machine.Machine) { t.next.StateChanged(m); t.poke() }
