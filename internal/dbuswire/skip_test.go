package dbuswire

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
)

// marker follows the value skipped in skipCases' bodies: Skip must stop
// right before it.
const marker = uint32(0xfeedf00d)

// unitStatus is a struct of mixed alignments, as systemd's ExecStart
// property holds: a(sasbttttuii).
type unitStatus struct {
	Path      string
	Argv      []string
	Ignore    bool
	Start     uint64
	StartMono uint64
	Exit      uint64
	ExitMono  uint64
	PID       uint32
	Code      int32
	Status    int32
}

// skipCases are values of each kind of type, as godbus encodes them.
var skipCases = []struct {
	name string
	v    any
}{
	{"byte", byte(7)},
	{"boolean", true},
	{"int16", int16(-2)},
	{"uint16", uint16(2)},
	{"int32", int32(-4)},
	{"uint32", uint32(4)},
	{"int64", int64(-8)},
	{"uint64", uint64(1) << 40},
	{"double", 2.5},
	{"unix fd", dbus.UnixFDIndex(0)},
	{"string", "active"},
	{"empty string", ""},
	{"object path", dbus.ObjectPath("/org/freedesktop/systemd1/unit/a_2eservice")},
	{"signature", dbus.SignatureOf("", []string{}, map[string]dbus.Variant{})},
	{"variant", dbus.MakeVariant(uint64(3))},
	{"variant of a struct array", dbus.MakeVariant([]unitStatus{{Path: "/bin/true", Argv: []string{"true"}}})},
	{"variant of a variant", dbus.MakeVariant(dbus.MakeVariant("x"))},
	{"bytes", []byte("abc")},
	{"empty uint64 array", []uint64{}},
	{"uint64 array", []uint64{1, 2}},
	{"uint16 array", []uint16{1, 2, 3}},
	{"boolean array", []bool{true, false}},
	{"string array", []string{"a", "bc", ""}},
	{"empty struct array", []unitStatus{}},
	{"struct array", []unitStatus{{Path: "/bin/a", Argv: []string{"a", "-x"}, Start: 9, PID: 3, Code: 1}, {Path: "/b"}}},
	{"dict", map[string]dbus.Variant{"ActiveState": dbus.MakeVariant("active"), "Ids": dbus.MakeVariant([]string{"a"})}},
	{"dict of uint64 keys", map[uint64][]byte{1: {1}, 2: {}}},
	{"struct", struct {
		A byte
		B uint64
		C []int16
	}{1, 2, []int16{3}}},
	{"nested arrays", [][][]int32{{{1}, {}}, {}}},
}

// TestSkip skips values godbus encodes, in both byte orders, and must
// stop right after each.
func TestSkip(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, tc := range skipCases {
			t.Run(order.String()+"/"+tc.name, func(t *testing.T) {
				sig := dbus.SignatureOf(tc.v).String()
				// A byte first puts the value off any alignment it has.
				d := NewDecoder(order, body(t, order, byte(1), tc.v, marker))
				d.Byte()
				d.Skip(sig)
				if got := d.Uint32(); got != marker || !d.Done() {
					t.Errorf("Skip(%q): then %#x, %v, %d bytes left; want the marker", sig, got, d.Err(), d.Len())
				}
				alone := body(t, order, tc.v)
				for i := range len(alone) {
					d := NewDecoder(order, alone[:i])
					if d.Skip(sig); !errors.Is(d.Err(), ErrMalformed) {
						t.Errorf("Skip(%q) of %d of its %d bytes: %v, want ErrMalformed", sig, i, len(alone), d.Err())
					}
				}
			})
		}
	}
}

// body returns the body of a signal godbus encodes in order with values
// v.
func body(t testing.TB, order binary.ByteOrder, v ...any) []byte {
	t.Helper()
	m, err := Parse(godbusMessage(t, order, dbus.TypeSignal, signalHeaders(), v...))
	if err != nil {
		t.Fatal(err)
	}
	return m.Body
}

// signalHeaders are the header fields of a unit's PropertiesChanged.
func signalHeaders() map[dbus.HeaderField]any {
	return map[dbus.HeaderField]any{dbus.FieldPath: dbus.ObjectPath("/org/freedesktop/systemd1/unit/a_2eservice"),
		dbus.FieldInterface: "org.freedesktop.DBus.Properties", dbus.FieldMember: "PropertiesChanged"}
}

// variants returns n variants each holding the next, the last a byte.
func variants(n int) []byte {
	return []byte(strings.Repeat("\x01v\x00", n-1) + "\x01y\x00\x07")
}

// skipRejects are signatures and values Skip refuses.
var skipRejects = []struct {
	name, sig string
	b         []byte
}{
	{"no signature", "", []byte{1}},
	{"two types", "yy", []byte{1, 2}},
	{"unknown type", "m", []byte{1}},
	{"array without its element", "a", []byte{0, 0, 0, 0}},
	{"struct without its end", "(y", []byte{1}},
	{"empty struct", "()", []byte{0}},
	{"dict entry outside an array", "{yy}", []byte{1, 2}},
	{"dict entry of a variant key", "a{vy}", []byte{0, 0, 0, 0, 0, 0, 0, 0}},
	{"dict entry of three types", "a{yyy}", []byte{0, 0, 0, 0, 0, 0, 0, 0}},
	{"dict entry of one type", "a{y}", []byte{0, 0, 0, 0, 0, 0, 0, 0}},
	{"variant of two types", "v", []byte{2, 'y', 'y', 0, 1, 2}},
	{"variant of no type", "v", []byte{0, 0}},
	{"padding", "(yt)", []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	{"padding of an array", "at", []byte{0, 0, 0, 0, 1, 0, 0, 0}},
	{"huge array", "ay", []byte{0, 0, 0, 0x7f}},
	{"array longer than the data", "ay", []byte{9, 0, 0, 0, 1}},
	{"array of part of a number", "at", []byte{4, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}},
	{"element beyond its array", "as", []byte{5, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c', 0}},
	{"boolean 2", "b", []byte{2, 0, 0, 0}},
	{"string without its NUL", "s", []byte{1, 0, 0, 0, 'a', 'b'}},
	{"string not UTF-8", "s", []byte{1, 0, 0, 0, 0xff, 0}},
	{"object path", "o", []byte{1, 0, 0, 0, 'a', 0}},
	{"signature value", "g", []byte{1, 'a', 0}},
	{"signature without its NUL", "g", []byte{1, 'y', 'y'}},
}

func TestSkipRejects(t *testing.T) {
	for _, tc := range skipRejects {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(binary.LittleEndian, tc.b)
			if d.Skip(tc.sig); !errors.Is(d.Err(), ErrMalformed) {
				t.Errorf("Skip(%q) of % x: %v, want ErrMalformed", tc.sig, tc.b, d.Err())
			}
		})
	}
}

// appendArrays appends n arrays nested in each other, each but the
// innermost holding the next; inner appends the innermost one's
// elements, of alignment elemAlign.
func appendArrays(e *Encoder, n, elemAlign int, inner func()) {
	if n == 0 {
		inner()
		return
	}
	align := 4
	if n == 1 {
		align = elemAlign
	}
	a := e.StartArray(align)
	appendArrays(e, n-1, elemAlign, inner)
	e.EndArray(a)
}

// arrays returns n nested arrays (appendArrays) whose innermost holds a
// byte.
func arrays(n int) []byte {
	var e Encoder
	appendArrays(&e, n, 1, func() { e.Byte(7) })
	return e.Buf
}

// TestSkipLimits skips values at the nesting limits and past them.
func TestSkipLimits(t *testing.T) {
	// 32 arrays of variants of n arrays of a byte: n = 31 makes 64
	// containers around the byte.
	inVariant := func(n int) []byte {
		var e Encoder
		appendArrays(&e, 32, 1, func() {
			e.Sig(strings.Repeat("a", n) + "y")
			appendArrays(&e, n, 1, func() { e.Byte(7) })
		})
		return e.Buf
	}
	for _, tc := range []struct {
		name, sig string
		b         []byte
		ok        bool
	}{
		{"32 arrays", strings.Repeat("a", 32) + "y", arrays(32), true},
		{"33 arrays", strings.Repeat("a", 33) + "y", []byte{0, 0, 0, 0}, false},
		{"32 structs", strings.Repeat("(", 32) + "y" + strings.Repeat(")", 32), []byte{1}, true},
		{"33 structs", strings.Repeat("(", 33) + "y" + strings.Repeat(")", 33), []byte{1}, false},
		{"32 dict entries", strings.Repeat("a{y", 32) + "y" + strings.Repeat("}", 32), make([]byte, 8), true},
		{"a struct of 32 dict entries", "(" + strings.Repeat("a{y", 32) + "y" + strings.Repeat("}", 32) + ")", make([]byte, 16), false},
		{"64 variants", "v", variants(64), true},
		{"65 variants", "v", variants(65), false},
		{"64 containers across a variant", strings.Repeat("a", 32) + "v", inVariant(31), true},
		{"65 containers across a variant", strings.Repeat("a", 32) + "v", inVariant(32), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(binary.LittleEndian, tc.b)
			d.Skip(tc.sig)
			if tc.ok && !d.Done() {
				t.Errorf("Skip(%q) of % x: %v, %d bytes left", tc.sig, tc.b, d.Err(), d.Len())
			}
			if !tc.ok && !errors.Is(d.Err(), ErrMalformed) {
				t.Errorf("Skip(%q) of % x: %v, want ErrMalformed", tc.sig, tc.b, d.Err())
			}
		})
	}
}

// FuzzSkip checks that Skip never panics, fails only with ErrMalformed,
// and, where it succeeds, read no byte past the value: the value's
// bytes alone skip as well.
func FuzzSkip(f *testing.F) {
	for _, tc := range skipCases {
		f.Add(dbus.SignatureOf(tc.v).String(), body(f, binary.LittleEndian, tc.v))
	}
	for _, tc := range skipRejects {
		f.Add(tc.sig, tc.b)
	}
	f.Fuzz(func(t *testing.T, sig string, b []byte) {
		d := NewDecoder(binary.LittleEndian, b)
		if d.Skip(sig); d.Err() != nil {
			if !errors.Is(d.Err(), ErrMalformed) {
				t.Fatalf("Skip(%q): %v, not ErrMalformed", sig, d.Err())
			}
			return
		}
		n := len(b) - d.Len()
		again := NewDecoder(binary.LittleEndian, b[:n])
		if again.Skip(sig); !again.Done() {
			t.Errorf("Skip(%q) read %d bytes; of those alone: %v, %d left", sig, n, again.Err(), again.Len())
		}
	})
}
