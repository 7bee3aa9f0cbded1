package machine1

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

// wireCases are reply bodies of every shape berthd sends.
var wireCases = []struct {
	name   string
	values []any
}{
	{"empty", nil},
	{"object path", []any{dbus.ObjectPath("/org/freedesktop/machine1/machine/a_2db")}},
	{"machines", []any{[]machineRow{{"a", "container", "nspawn", "/a"}, {".host", "host", "", "/b"}}}},
	{"no machines", []any{[]machineRow{}}},
	{"addresses", []any{[]addressRow{{2, []byte{10, 0, 0, 1}}, {10, make([]byte, 16)}}}},
	{"os-release", []any{map[string]string{"ID": "debian", "NAME": "Debian GNU/Linux"}}},
	{"properties", []any{map[string]dbus.Variant{
		"Id": dbus.MakeVariant([]byte{1, 2}), "Timestamp": dbus.MakeVariant(uint64(1) << 40),
		"Leader": dbus.MakeVariant(uint32(7)), "NetworkInterfaces": dbus.MakeVariant([]int32{3, -1}),
		"ReadOnly": dbus.MakeVariant(true), "Name": dbus.MakeVariant("x"),
	}}},
	{"variant", []any{dbus.MakeVariant(dbus.MakeVariant(int16(-2)))}},
	{"mixed", []any{"s", uint32(1), int64(-5), float64(1.5), uint16(9), byte(3), false, dbus.Signature{}}},
	{"nested arrays", []any{[][]string{{"a"}, {}, {"b", "c"}}, []map[string]int32{{"k": 1}, {}}}},
}

// TestWireMatchesGodbus decodes what the wire encoder writes with
// godbus's decoder and compares it with godbus's own encoding.
func TestWireMatchesGodbus(t *testing.T) {
	for _, tc := range wireCases {
		t.Run(tc.name, func(t *testing.T) {
			sig := dbus.SignatureOf(tc.values...)
			body, fds, err := encodeBody(tc.values)
			if err != nil {
				t.Fatal(err)
			}
			msg := wireMessage(t, 1<<31|7, 42, ":1.9", sig, body, len(fds))
			got, err := dbus.DecodeMessage(bytes.NewReader(msg))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := godbusRoundTrip(t, sig, tc.values)
			if diff := cmp.Diff(want.Body, got.Body, cmp.Comparer(sameVariant), cmp.Comparer(sameSignature)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if got.Type != dbus.TypeMethodReply || got.Serial() != 1<<31|7 {
				t.Errorf("type %v serial %d", got.Type, got.Serial())
			}
			for f, v := range want.Headers {
				if got.Headers[f].String() != v.String() {
					t.Errorf("header %d: got %v, want %v", f, got.Headers[f], v)
				}
			}
		})
	}
}

// wireMessage is a whole reply message: header and body.
func wireMessage(t *testing.T, serial, replySerial uint32, dest string, sig dbus.Signature, body []byte, nfds int) []byte {
	t.Helper()
	h, err := replyHeader(nil, serial, replySerial, dest, sig, len(body), nfds)
	if err != nil {
		t.Fatal(err)
	}
	return append(h, body...)
}

// TestWireEncodedList checks ListMachines' cached body against the
// encoding of its rows and its signature.
func TestWireEncodedList(t *testing.T) {
	rows := []machineRow{{"a", "container", "x", "/a"}}
	body, _, err := encodeBody([]any{rows})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := encodeBody([]any{encoded{body}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(body, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if s := dbus.SignatureOf(rows).String(); s != machineListSig {
		t.Errorf("ListMachines signature %q, want %q", machineListSig, s)
	}
	if _, _, err := encodeBody([]any{"x", encoded{body}}); err == nil {
		t.Error("encoded value after another encoded")
	}
}

func sameVariant(a, b dbus.Variant) bool { return a.String() == b.String() }

func sameSignature(a, b dbus.Signature) bool { return a.String() == b.String() }

// godbusRoundTrip encodes a reply with godbus and decodes it again.
func godbusRoundTrip(t *testing.T, sig dbus.Signature, values []any) *dbus.Message {
	t.Helper()
	m := &dbus.Message{Type: dbus.TypeMethodReply, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldReplySerial: dbus.MakeVariant(uint32(42)), dbus.FieldDestination: dbus.MakeVariant(":1.9"),
	}, Body: values}
	if len(values) > 0 {
		m.Headers[dbus.FieldSignature] = dbus.MakeVariant(sig)
	}
	var buf bytes.Buffer
	if err := m.EncodeTo(&buf, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	out, err := dbus.DecodeMessage(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWireRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []any
	}{
		{"not UTF-8", []any{"\xff"}},
		{"NUL", []any{"a\x00b"}},
		{"bad path", []any{dbus.ObjectPath("/a//b")}},
		{"bad path in row", []any{[]machineRow{{"a", "", "", "a"}}}},
		{"nil", []any{nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := encodeBody(tc.values); err == nil {
				t.Error("encoded")
			}
		})
	}
}

// FuzzWireString checks that any string from a container (os-release
// values, names) either encodes to a message godbus decodes back to the
// same string, or is refused.
func FuzzWireString(f *testing.F) {
	for _, s := range []string{"", "debian", "\xff", "a\x00", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		values := []any{map[string]string{s: s}}
		body, _, err := encodeBody(values)
		if err != nil {
			return
		}
		msg := wireMessage(t, 1, 2, ":1.1", dbus.SignatureOf(values...), body, 0)
		got, err := dbus.DecodeMessage(bytes.NewReader(msg))
		if err != nil {
			t.Fatalf("decode %q: %v", s, err)
		}
		if diff := cmp.Diff(values, got.Body); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
