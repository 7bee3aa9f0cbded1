package machine1

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

// godbusCall encodes a method call with godbus.
func godbusCall(t testing.TB, order binary.ByteOrder, iface, member string, flags dbus.Flags, args ...any) []byte {
	t.Helper()
	m := &dbus.Message{Type: dbus.TypeMethodCall, Flags: flags, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:        dbus.MakeVariant(ManagerPath),
		dbus.FieldMember:      dbus.MakeVariant(member),
		dbus.FieldSender:      dbus.MakeVariant(":1.42"),
		dbus.FieldDestination: dbus.MakeVariant("org.freedesktop.machine1"),
	}, Body: args}
	if iface != "" {
		m.Headers[dbus.FieldInterface] = dbus.MakeVariant(iface)
	}
	if len(args) > 0 {
		m.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(args...))
	}
	var buf bytes.Buffer
	if err := m.EncodeTo(&buf, order); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestParseCall parses calls encoded by godbus, in both byte orders.
func TestParseCall(t *testing.T) {
	type parsed struct {
		Path, Iface, Member, Sig, Sender string
		Flags                            byte
		Name                             string
	}
	for _, tc := range []struct {
		name  string
		order binary.ByteOrder
		msg   func(t *testing.T) []byte
		want  parsed
	}{
		{"get little", binary.LittleEndian, func(t *testing.T) []byte {
			return godbusCall(t, binary.LittleEndian, "org.freedesktop.machine1.Manager", "GetMachine", 0, "bench-1")
		}, parsed{"/org/freedesktop/machine1", "org.freedesktop.machine1.Manager", "GetMachine", "s", ":1.42", 0, "bench-1"}},
		{"get big", binary.BigEndian, func(t *testing.T) []byte {
			return godbusCall(t, binary.BigEndian, "org.freedesktop.machine1.Manager", "GetMachine", 0, "ü")
		}, parsed{"/org/freedesktop/machine1", "org.freedesktop.machine1.Manager", "GetMachine", "s", ":1.42", 0, "ü"}},
		{"list no interface", binary.LittleEndian, func(t *testing.T) []byte {
			return godbusCall(t, binary.LittleEndian, "", "ListMachines", dbus.FlagNoReplyExpected)
		}, parsed{"/org/freedesktop/machine1", "", "ListMachines", "", ":1.42", 1, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.msg(t)
			framed, err := readMessage(bytes.NewReader(append(append([]byte{}, msg...), 0xff)))
			if err != nil || !bytes.Equal(framed, msg) {
				t.Fatalf("readMessage = %d bytes, %v; want %d", len(framed), err, len(msg))
			}
			c, err := parseCall(msg)
			if err != nil {
				t.Fatal(err)
			}
			got := parsed{c.path, c.iface, c.member, c.sig, c.sender, c.flags, ""}
			if c.sig == "s" {
				got.Name, _, err = c.str(c.body, 0)
				if err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseCallRejects checks that truncated and inconsistent messages
// are errors, never panics.
func TestParseCallRejects(t *testing.T) {
	msg := godbusCall(t, binary.LittleEndian, "org.freedesktop.machine1.Manager", "GetMachine", 0, "x")
	for i := 0; i < len(msg); i++ {
		if _, err := parseCall(msg[:i]); err == nil {
			t.Errorf("parsed a message cut to %d of %d bytes", i, len(msg))
		}
	}
	reply := append([]byte{}, msg...)
	reply[1] = 2
	if _, err := parseCall(reply); err == nil {
		t.Error("parsed a reply as a call")
	}
}

// FuzzParseCall feeds the fast path's parser (its input comes from any
// peer on the bus) arbitrary messages: it must never panic, and whatever
// it accepts godbus must be able to frame too.
func FuzzParseCall(f *testing.F) {
	f.Add(godbusCall(f, binary.LittleEndian, "org.freedesktop.machine1.Manager", "GetMachine", 0, "bench-1"))
	f.Add(godbusCall(f, binary.BigEndian, "org.freedesktop.machine1.Manager", "ListMachines", 0))
	f.Add([]byte("l\x01\x00\x01"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := parseCall(msg)
		if err != nil {
			return
		}
		if c.sig == "s" {
			_, _, _ = c.str(c.body, 0)
		}
		if _, err := readMessage(bytes.NewReader(msg)); err != nil {
			t.Errorf("parseCall accepted what readMessage cannot frame: %v", err)
		}
	})
}
