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
			c, err := parseCall(msg)
			if err != nil {
				t.Fatal(err)
			}
			got := parsed{c.Path, c.Interface, c.Member, c.Signature, c.Sender, c.Flags, ""}
			if c.Signature == "s" {
				var ok bool
				if got.Name, ok = oneString(&c); !ok {
					t.Fatal("GetMachine's argument")
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseCallRejects checks that what is not a method call goes to
// godbus (dbuswire's tests cover malformed messages).
func TestParseCallRejects(t *testing.T) {
	msg := godbusCall(t, binary.LittleEndian, "org.freedesktop.machine1.Manager", "GetMachine", 0, "x")
	reply := append([]byte{}, msg...)
	reply[1] = 2
	if _, err := parseCall(reply); err == nil {
		t.Error("parsed a reply as a call")
	}
	if _, err := parseCall(msg[:len(msg)-1]); err == nil {
		t.Error("parsed a truncated call")
	}
}
