package machine1

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/dbuswire"
	"github.com/berth-dev/berth/internal/machine"
	"github.com/berth-dev/berth/internal/rawsock"
)

// TestFastPathAllocs bounds what the fast path allocates per call, from
// the bytes read to the reply written: the registration calls come a
// thousand at a time, and their garbage is what fragments berthd's heap.
// A registration copies its strings (once, together) and its network
// interfaces; GetMachine allocates nothing.
func TestFastPathAllocs(t *testing.T) {
	register := godbusCall(t, binary.LittleEndian, "org.freedesktop.machine1.Manager", "RegisterMachine", 0,
		"m-1", []byte("0123456789abcdef"), "nspawn", "container", uint32(4242), "/var/lib/machines/m-1")
	withNetwork := godbusCall(t, binary.LittleEndian, "org.freedesktop.machine1.Manager", "RegisterMachineWithNetwork", 0,
		"m-1", []byte("0123456789abcdef"), "nspawn", "container", uint32(4242), "/var/lib/machines/m-1", []int32{7})
	get := godbusCall(t, binary.LittleEndian, "org.freedesktop.machine1.Manager", "GetMachine", 0, "m-1")
	sock := socketPair(t)
	// The socket's reader and buffer, reused from one message to the next.
	var in []byte
	r := bytes.NewReader(nil)
	read := func(b []byte) []byte {
		r.Reset(b)
		msg, _ := dbuswire.AppendMessage(in, r, dbuswire.MaxMessage)
		in = keep(msg)
		return msg
	}
	reply := func(c call) {
		if err := sock.replyMachine(c.Sender, c.Serial, "m-1"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		max  float64
		run  func()
	}{
		{"register", 1, func() {
			c, _ := parseCall(read(register))
			_, _ = decodeSpec(c)
			reply(c)
		}},
		{"register with network", 2, func() { // and the interfaces
			c, _ := parseCall(read(withNetwork))
			_, _ = decodeSpec(c)
			reply(c)
		}},
		{"get", 0, func() {
			c, _ := parseCall(read(get))
			d := c.Args()
			_ = d.StrAlias()
			reply(c)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := testing.AllocsPerRun(100, tc.run); got > tc.max {
				t.Errorf("%v allocations per call, want at most %v", got, tc.max)
			}
		})
	}
}

// socketPair returns a busSocket on one end of a socket pair whose other
// end discards what it reads.
func socketPair(t *testing.T) *busSocket {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	peer := os.NewFile(uintptr(fds[1]), "socketpair")
	t.Cleanup(func() { _ = peer.Close() })
	go func() { _, _ = io.Copy(io.Discard, peer) }()
	raw, err := rawsock.New(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return newBusSocket(raw)
}

// TestSignalsLog checks the log lines of a registration and a removal,
// built without fmt, and that they allocate nothing.
func TestSignalsLog(t *testing.T) {
	var out bytes.Buffer
	g := Signals{Log: log.New(&out, "berthd: ", 0)}
	m := machine.Machine{Spec: machine.Spec{Name: "m-1", Class: machine.ClassContainer, Leader: 4242, Service: "nspawn \"x\""}}
	g.MachineNew(m)
	g.MachineRemoved(m)
	want := fmt.Sprintf("berthd: machine %s registered (class %q, leader %d, service %q)\nberthd: machine %s removed\n",
		m.Name, m.Class, m.Leader, m.Service, m.Name)
	if got := out.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
	// Not io.Discard itself, for which log formats nothing.
	g.Log.SetOutput(struct{ io.Writer }{io.Discard})
	if n := testing.AllocsPerRun(100, func() { g.MachineNew(m); g.MachineRemoved(m) }); n != 0 {
		t.Errorf("%v allocations per registration and removal logged, want 0", n)
	}
}
