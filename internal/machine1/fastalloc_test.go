package machine1

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/berth-dev/berth/internal/dbuswire"
)

// TestFastPathAllocs bounds what the fast path allocates per call, from
// the bytes read to the reply's header and body: the registration calls
// come a thousand at a time, and their garbage is what fragments
// berthd's heap.
func TestFastPathAllocs(t *testing.T) {
	register := godbusCall(t, binary.LittleEndian, "org.freedesktop.machine1.Manager", "RegisterMachineWithNetwork", 0,
		"m-1", []byte("0123456789abcdef"), "nspawn", "container", uint32(4242), "/var/lib/machines/m-1", []int32{7})
	get := godbusCall(t, binary.LittleEndian, "org.freedesktop.machine1.Manager", "GetMachine", 0, "m-1")
	// The socket's buffers, reused from one message to the next.
	var in, header, body []byte
	read := func(b []byte) []byte {
		msg, _ := dbuswire.AppendMessage(in, bytes.NewReader(b), dbuswire.MaxMessage)
		in = keep(msg)
		return msg
	}
	reply := func(c call) {
		b, fds, _ := appendBody(body, []any{MachinePath("m-1")})
		body = keep(b)
		h, _ := replyHeader(header, 1<<31|1, c.Serial, c.Sender, pathSig, len(b), len(fds))
		header = keep(h)
	}
	for _, tc := range []struct {
		name string
		max  float64
		run  func()
	}{
		{"register", 11, func() {
			msg := read(register)
			c, _ := parseCall(msg)
			_, _ = decodeSpec(c)
			reply(c)
		}},
		{"get", 6, func() {
			msg := read(get)
			c, _ := parseCall(msg)
			_, _ = oneString(&c)
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
