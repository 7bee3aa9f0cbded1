package testbed

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/paths"
)

// Berthd is a berthd process a test started.
type Berthd struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	// b is guarded by mu.
	b bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartBerthd starts the freshly built berthd on bus, with its paths under
// p.Root, the embedded lifecycle backend and the units installed by
// InstallUnits, in a throwaway network namespace of its own (so nothing it
// or its machines do to the network touches the host's), and waits until
// it owns org.freedesktop.machine1. When t ends, every machine of an image
// in p.Pool is powered off by force through the bus, then berthd is
// killed.
func StartBerthd(t testing.TB, bus *Bus, p paths.Paths, args ...string) *Berthd {
	t.Helper()
	return StartBerthdIn(t, bus, p, NewNetNS(t), args...)
}

// Log returns what berthd wrote to its standard error so far.
func (d *Berthd) Log() string { return d.stderr.String() }

func (d *Berthd) waitName(t testing.TB, bus *Bus) {
	t.Helper()
	conn := bus.Conn(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var has bool
		_ = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.machine1").Store(&has)
		if has {
			return
		}
		select {
		case <-d.done:
			t.Fatalf("berthd exited: %s", d.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("berthd never owned org.freedesktop.machine1: %s", d.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// powerOffAll forces every machine named after an image in p.Pool off.
func (d *Berthd) powerOffAll(bus *Bus, p paths.Paths) {
	entries, _ := os.ReadDir(p.Pool)
	if len(entries) == 0 {
		return
	}
	conn, err := dbus.Connect(bus.Address)
	if err != nil {
		return
	}
	defer conn.Close()
	obj := conn.Object("org.freedesktop.machine1", "/org/freedesktop/machine1")
	for _, e := range entries {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_ = obj.CallWithContext(ctx, "dev.berth.Manager1.PowerOffMachine", 0, e.Name(), true).Err
		cancel()
	}
}
