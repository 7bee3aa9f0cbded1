package machine1_test

import (
	"bufio"
	"encoding/binary"
	"log"
	"net"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/dbuswire"
	"github.com/berth-dev/berth/internal/machine"
	"github.com/berth-dev/berth/internal/machine1"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationRegisterRoundTripAllocs bounds what berthd's whole stack
// (the bus socket, the fast path, the registry with its state file and
// leader watch, the MachineNew and MachineRemoved signals and their log
// lines) allocates for a RegisterMachine and its end, by UnregisterMachine
// or by the leader's exit, from a root caller on a real bus: a
// registration's garbage, a thousand registrations at a time, is what
// triggers collections and fragments berthd's heap. What is left is the
// machine's own data (its entry and strings, carved from chunks, and the
// copy of the call's strings); the callers are raw connections that
// allocate nothing.
func TestIntegrationRegisterRoundTripAllocs(t *testing.T) {
	testbed.RequireRoot(t)
	bus := testbed.StartBus(t)
	startStack(t, bus)
	t.Run("unregister", func(t *testing.T) {
		leader := sleeper(t)
		client := dialRaw(t, bus)
		register := registerCall(t, client, leader)
		unregister := client.message(t, "UnregisterMachine", "s", func(e *dbuswire.Encoder) { e.Str("allocs") })
		checkAllocs(t, 200, maxRoundTripAllocs, func(int) {
			client.call(t, register)
			client.call(t, unregister)
		})
	})
	t.Run("a connection each", func(t *testing.T) {
		// As spawners register: berthd asks the bus for each caller's UID.
		const runs = 100
		leader := sleeper(t)
		clients := make([]*rawClient, runs)
		calls := make([][2][]byte, runs)
		for i := range clients {
			clients[i] = dialRaw(t, bus)
			calls[i] = [2][]byte{registerCall(t, clients[i], leader),
				clients[i].message(t, "UnregisterMachine", "s", func(e *dbuswire.Encoder) { e.Str("allocs") })}
		}
		checkAllocs(t, runs, maxNewCallerAllocs, func(i int) {
			clients[i].call(t, calls[i][0])
			clients[i].call(t, calls[i][1])
		})
	})
	t.Run("leader exit", func(t *testing.T) {
		const runs = 50
		client := dialRaw(t, bus)
		leaders := make([]*exec.Cmd, runs)
		calls := make([][]byte, runs)
		for i := range leaders {
			leaders[i] = sleeper(t)
			calls[i] = registerCall(t, client, leaders[i])
		}
		client.call(t, client.addMatch(t, "type='signal',interface='"+busName+".Manager',member='MachineRemoved'"))
		checkAllocs(t, runs, maxRoundTripAllocs, func(i int) {
			client.call(t, calls[i])
			if err := unix.Kill(leaders[i].Process.Pid, unix.SIGKILL); err != nil {
				t.Fatal(err)
			}
			client.await(t, "MachineRemoved")
		})
	})
}

// Bounds of the allocations of a registration and its end, on average:
// the copies of the calls' strings (one for RegisterMachine, one for
// UnregisterMachine) and, once in about 56 registrations, an entry chunk
// of 8 KiB (the machine's own data: 144 bytes a machine) and a string
// chunk.
const (
	maxRoundTripAllocs = 2.5
	maxRoundTripBytes  = 256
	// maxNewCallerAllocs adds a new caller's name, kept once by the
	// message parser.
	maxNewCallerAllocs = 3
)

// checkAllocs runs run(0) to run(runs-1) and fails if those after the
// first allocate more than maxAllocs objects or maxRoundTripBytes bytes
// each, on average (counted as testing.AllocsPerRun counts).
func checkAllocs(t *testing.T, runs int, maxAllocs float64, run func(i int)) {
	t.Helper()
	run(0) // the bus tells berthd the caller's UID once
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 1; i < runs; i++ {
		run(i)
	}
	runtime.ReadMemStats(&after)
	allocs := float64(after.Mallocs-before.Mallocs) / float64(runs-1)
	bytes := float64(after.TotalAlloc-before.TotalAlloc) / float64(runs-1)
	t.Logf("%.2f allocations, %.0f bytes per registration and its end", allocs, bytes)
	if allocs > maxAllocs || bytes > maxRoundTripBytes {
		t.Errorf("%.2f allocations and %.0f bytes per registration and its end, want at most %v and %d",
			allocs, bytes, maxAllocs, maxRoundTripBytes)
	}
}

// sleeper starts a process to lead a machine; it is killed when t ends.
func sleeper(t *testing.T) *exec.Cmd {
	c := exec.Command("sleep", "infinity")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	return c
}

// registerCall prepares the RegisterMachine call of a machine "allocs"
// led by leader.
func registerCall(t *testing.T, client *rawClient, leader *exec.Cmd) []byte {
	return registerNamed(t, client, "allocs", leader)
}

// registerNamed prepares the RegisterMachine call of a machine name led by
// leader.
func registerNamed(t *testing.T, client *rawClient, name string, leader *exec.Cmd) []byte {
	return client.message(t, "RegisterMachine", "sayssus", func(e *dbuswire.Encoder) {
		e.Str(name)
		e.Bytes(nil)
		e.Str("test")
		e.Str("container")
		e.Uint32(uint32(leader.Process.Pid))
		e.Str("")
	})
}

// startStack runs berthd's registry, signals and bus server in this
// process on bus, as berthd wires them, with log lines formatted (and
// dropped).
func startStack(t *testing.T, bus *testbed.Bus) {
	logger := log.New(sink{}, "", 0)
	signals := &machine1.Signals{Log: logger}
	reg, err := machine.New(machine.Options{Paths: paths.Under(t.TempDir()), Log: logger, Observer: signals})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	srv := machine1.New(machine1.Options{Machines: reg, Log: logger})
	conn, err := machine1.ConnectSystemBus(srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	signals.Attach(srv)
	if err := machine1.Claim(conn, busName); err != nil {
		t.Fatal(err)
	}
}

// sink is a log writer that drops what it gets, after the logger formatted
// it (a logger on io.Discard formats nothing).
type sink struct{}

func (sink) Write(p []byte) (int, error) { return len(p), nil }

// rawClient is a bus connection that writes prepared calls and reads
// their replies into a reused buffer.
type rawClient struct {
	c      *net.UnixConn
	r      *bufio.Reader
	in     []byte
	serial uint32
}

// dialRaw connects to bus as root and says Hello.
func dialRaw(t *testing.T, bus *testbed.Bus) *rawClient {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: bus.Socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	rc := &rawClient{c: c, r: bufio.NewReader(c), in: make([]byte, 0, 1024)}
	hello := dbuswire.Header{Type: dbuswire.TypeCall, Path: "/org/freedesktop/DBus", Interface: "org.freedesktop.DBus",
		Member: "Hello", Destination: "org.freedesktop.DBus"}
	rc.call(t, rc.build(t, &hello, nil))
	return rc
}

// message prepares a call of member on the Manager with the body args
// encodes.
func (rc *rawClient) message(t *testing.T, member, sig string, args func(*dbuswire.Encoder)) []byte {
	var e dbuswire.Encoder
	args(&e)
	if e.Err() != nil {
		t.Fatal(e.Err())
	}
	h := dbuswire.Header{Type: dbuswire.TypeCall, Path: string(machine1.ManagerPath), Interface: busName + ".Manager",
		Member: member, Destination: busName, Signature: sig}
	return rc.build(t, &h, e.Buf)
}

// addMatch prepares the bus's AddMatch call of rule.
func (rc *rawClient) addMatch(t *testing.T, rule string) []byte {
	var e dbuswire.Encoder
	e.Str(rule)
	h := dbuswire.Header{Type: dbuswire.TypeCall, Path: "/org/freedesktop/DBus", Interface: "org.freedesktop.DBus",
		Member: "AddMatch", Destination: "org.freedesktop.DBus", Signature: "s"}
	return rc.build(t, &h, e.Buf)
}

func (rc *rawClient) build(t *testing.T, h *dbuswire.Header, body []byte) []byte {
	msg, err := dbuswire.AppendHeader(nil, h, len(body))
	if err != nil {
		t.Fatal(err)
	}
	return append(msg, body...)
}

// call sends msg under a new serial and reads messages until its reply,
// failing on an error reply other than the one named wantErr, if any.
func (rc *rawClient) call(t *testing.T, msg []byte, wantErr ...string) {
	if rc.serial == 0 {
		if _, err := rc.c.Write(dbuswire.AppendAuth(nil, 0)); err != nil {
			t.Fatal(err)
		}
		if err := dbuswire.ReadAuthOK(rc.r); err != nil {
			t.Fatal(err)
		}
	}
	rc.serial++
	binary.LittleEndian.PutUint32(msg[8:], rc.serial)
	if _, err := rc.c.Write(msg); err != nil {
		t.Fatal(err)
	}
	m := rc.until(t, rc.serial, "")
	if m.Type == dbuswire.TypeError && (len(wantErr) == 0 || m.ErrorName != wantErr[0]) {
		t.Fatalf("%s: %s", m.ErrorName, m.Body)
	}
}

// await reads messages until the signal member.
func (rc *rawClient) await(t *testing.T, member string) { rc.until(t, 0, member) }

// until reads messages until the reply to serial (if not 0) or the signal
// member (if not ""), and returns it.
func (rc *rawClient) until(t *testing.T, serial uint32, member string) dbuswire.Message {
	for {
		in, err := dbuswire.AppendMessage(rc.in[:0], rc.r, dbuswire.MaxMessage)
		if err != nil {
			t.Fatal(err)
		}
		rc.in = in
		m, err := dbuswire.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if serial != 0 && m.ReplySerial == serial || member != "" && m.Type == dbuswire.TypeSignal && m.Member == member {
			return m
		}
	}
}

// TestIntegrationRegisterCallerGone registers from connections that close
// right after their call, so berthd's query of the caller's UID may fail
// (the bus no longer knows the name): each registration is denied or done,
// and berthd goes on answering the queries of the next callers.
func TestIntegrationRegisterCallerGone(t *testing.T) {
	testbed.RequireRoot(t)
	bus := testbed.StartBus(t)
	startStack(t, bus)
	goneLeader, leader := sleeper(t), sleeper(t)
	for range 20 {
		gone := dialRaw(t, bus)
		msg := registerNamed(t, gone, "gone", goneLeader)
		binary.LittleEndian.PutUint32(msg[8:], 100)
		if _, err := gone.c.Write(msg); err != nil {
			t.Fatal(err)
		}
		_ = gone.c.Close()
		client := dialRaw(t, bus)
		client.call(t, registerCall(t, client, leader))
		client.call(t, client.message(t, "UnregisterMachine", "s", func(e *dbuswire.Encoder) { e.Str("allocs") }))
		// Whether or not "gone" registered, its leader is free again.
		client.call(t, client.message(t, "UnregisterMachine", "s", func(e *dbuswire.Encoder) { e.Str("gone") }),
			"org.freedesktop.machine1.NoSuchMachine")
	}
}
