package dbuswire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

// godbusMessage encodes a message with godbus in order.
func godbusMessage(t testing.TB, order binary.ByteOrder, typ dbus.Type, headers map[dbus.HeaderField]any, body ...any) []byte {
	t.Helper()
	m := &dbus.Message{Type: typ, Headers: map[dbus.HeaderField]dbus.Variant{}, Body: body}
	for f, v := range headers {
		m.Headers[f] = dbus.MakeVariant(v)
	}
	if len(body) > 0 {
		m.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body...))
	}
	var b bytes.Buffer
	if err := m.EncodeTo(&b, order); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func callHeaders() map[dbus.HeaderField]any {
	return map[dbus.HeaderField]any{dbus.FieldPath: dbus.ObjectPath("/org/freedesktop/machine1"),
		dbus.FieldInterface: "org.freedesktop.machine1.Manager", dbus.FieldMember: "RegisterMachineWithNetwork",
		dbus.FieldSender: ":1.42", dbus.FieldDestination: "org.freedesktop.machine1"}
}

// TestParseGodbusMessages parses messages godbus encodes, in both byte
// orders, and reads their bodies.
func TestParseGodbusMessages(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		t.Run(order.String(), func(t *testing.T) {
			msg := godbusMessage(t, order, dbus.TypeMethodCall, callHeaders(),
				"m-1", []byte("0123"), uint32(4242), dbus.ObjectPath("/"), []int32{7, -9}, []struct {
					K string
					V dbus.Variant
				}{})
			framed, err := ReadMessage(bytes.NewReader(append(append([]byte{}, msg...), 0xff)), 1<<20)
			if err != nil || !bytes.Equal(framed, msg) {
				t.Fatalf("ReadMessage = %d bytes, %v; want %d", len(framed), err, len(msg))
			}
			m, err := Parse(msg)
			if err != nil {
				t.Fatal(err)
			}
			want := Header{Type: TypeCall, Serial: m.Serial, Path: "/org/freedesktop/machine1", Interface: "org.freedesktop.machine1.Manager",
				Member: "RegisterMachineWithNetwork", Sender: ":1.42", Destination: "org.freedesktop.machine1", Signature: "sayuoaia(sv)"}
			if diff := cmp.Diff(want, m.Header); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			d := m.Args()
			name, id, leader, path := d.Str(), d.Bytes(), d.Uint32(), d.Path()
			ifs := d.Array(4)
			var got []int32
			for !ifs.Done() && ifs.Err() == nil {
				got = append(got, int32(ifs.Uint32()))
			}
			props := d.Array(8)
			if !d.Done() || !props.Done() || ifs.Err() != nil {
				t.Fatalf("body: %v %v", d.Err(), ifs.Err())
			}
			if diff := cmp.Diff([]any{"m-1", []byte("0123"), uint32(4242), "/", []int32{7, -9}},
				[]any{name, id, leader, path, got}); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	good := godbusMessage(t, binary.LittleEndian, dbus.TypeMethodCall, callHeaders(), "x")
	bad := func(at int, v byte) []byte {
		b := append([]byte{}, good...)
		b[at] = v
		return b
	}
	var e Encoder
	e.Buf = append(e.Buf, 'l', TypeCall, 0, 1)
	e.Uint32(0)
	e.Uint32(1)
	fields := e.StartArray(8)
	e.Byte(FieldPath)
	e.Sig("s")
	e.Str("/p")
	e.EndArray(fields)
	e.Align(8)
	wrongType := e.Buf
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"byte order", bad(0, 'x')},
		{"version", bad(3, 2)},
		{"type 0", bad(1, 0)},
		{"longer", append(append([]byte{}, good...), 0)},
		{"huge body", append(append(append([]byte{}, good[:4]...), 0xff, 0xff, 0xff, 0x7f), good[8:]...)},
		{"path field as a string", wrongType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if m, err := Parse(tc.b); !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse = %+v, %v; want ErrMalformed", m.Header, err)
			}
		})
	}
	for i := range good {
		if _, err := Parse(good[:i]); err == nil {
			t.Errorf("parsed a message cut to %d of %d bytes", i, len(good))
		}
	}
}

func TestDecoderRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		read func(d *Decoder)
	}{
		{"short", []byte{1, 0}, func(d *Decoder) { d.Uint32() }},
		{"padding", []byte{1, 1, 0, 0, 1, 0, 0, 0}, func(d *Decoder) { d.Byte(); d.Uint32() }},
		{"string without NUL", []byte{1, 0, 0, 0, 'a', 'b'}, func(d *Decoder) { d.Str() }},
		{"string with NUL", []byte{2, 0, 0, 0, 'a', 0, 0}, func(d *Decoder) { d.Str() }},
		{"string not UTF-8", []byte{1, 0, 0, 0, 0xff, 0}, func(d *Decoder) { d.Str() }},
		{"path", []byte{1, 0, 0, 0, 'a', 0}, func(d *Decoder) { d.Path() }},
		{"signature", []byte{5, 's', 0}, func(d *Decoder) { d.Sig() }},
		{"array", []byte{9, 0, 0, 0, 1}, func(d *Decoder) { d.Bytes() }},
		{"huge array", []byte{0, 0, 0, 0x7f}, func(d *Decoder) { d.Array(1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(binary.LittleEndian, tc.b)
			tc.read(&d)
			if !errors.Is(d.Err(), ErrMalformed) {
				t.Errorf("Err() = %v, want ErrMalformed", d.Err())
			}
		})
	}
}

// FuzzParse feeds the parser (its input comes from any peer on the bus)
// arbitrary bytes: it must never panic, and a header it accepts must
// encode again to a message that parses to the same header.
func FuzzParse(f *testing.F) {
	f.Add(godbusMessage(f, binary.LittleEndian, dbus.TypeMethodCall, callHeaders(), "m-1", []byte{1}, uint32(7)))
	f.Add(godbusMessage(f, binary.BigEndian, dbus.TypeError, map[dbus.HeaderField]any{
		dbus.FieldErrorName: "e.r", dbus.FieldReplySerial: uint32(3)}, "msg"))
	f.Add([]byte("l\x01\x00\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		for d := m.Args(); d.Err() == nil && !d.Done(); {
			_ = d.Str()
			a := d.Array(8)
			_ = a.Bytes()
		}
		msg, err := AppendHeader(nil, &m.Header, len(m.Body))
		if err != nil {
			t.Fatalf("encode a parsed header: %v", err)
		}
		again, err := Parse(append(msg, m.Body...))
		if err != nil {
			t.Fatalf("parse a parsed header encoded again: %v", err)
		}
		if diff := cmp.Diff(m.Header, again.Header); diff != "" {
			t.Errorf("(-first +again):\n%s", diff)
		}
	})
}

func TestAuth(t *testing.T) {
	if got, want := string(AppendAuth([]byte("x"), 1000)), "x\x00AUTH EXTERNAL 31303030\r\nBEGIN\r\n"; got != want {
		t.Errorf("AppendAuth = %q, want %q", got, want)
	}
	for answer, ok := range map[string]bool{"OK 0123abcd\r\n": true, "REJECTED EXTERNAL\r\n": false, "OK": false} {
		if err := ReadAuthOK(bufio.NewReader(strings.NewReader(answer))); (err == nil) != ok {
			t.Errorf("ReadAuthOK(%q) = %v, want ok=%v", answer, err, ok)
		}
	}
}

// TestAppendMessageReuses reads messages of different sizes into one
// buffer: each comes out whole, and one that fits the buffer is read
// into it without allocating.
func TestAppendMessageReuses(t *testing.T) {
	small := godbusMessage(t, binary.LittleEndian, dbus.TypeMethodCall, callHeaders(), "m-1")
	large := godbusMessage(t, binary.LittleEndian, dbus.TypeMethodCall, callHeaders(), strings.Repeat("x", 300))
	r := bytes.NewReader(append(append(append([]byte{}, large...), small...), large...))
	var buf []byte
	for i, want := range [][]byte{large, small, large} {
		got, err := AppendMessage(buf, r, 1<<20)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("message %d: %d bytes, %v; want %d", i, len(got), err, len(want))
		}
		if i > 0 && &got[0] != &buf[0] {
			t.Errorf("message %d was not read into the buffer", i)
		}
		buf = got
	}
	if n := testing.AllocsPerRun(100, func() {
		r.Reset(small)
		buf, _ = AppendMessage(buf, r, 1<<20)
	}); n != 0 {
		t.Errorf("%v allocations per message read into a buffer with room, want 0", n)
	}
}

// TestParseInternsHeader checks that parsing a message like one parsed
// before allocates nothing: its header strings are the ones kept from
// then, and a call's garbage is what fragments berthd's heap.
func TestParseInternsHeader(t *testing.T) {
	msg := godbusMessage(t, binary.LittleEndian, dbus.TypeMethodCall, callHeaders(), "m-1")
	first, err := Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got := testing.AllocsPerRun(100, func() { _, _ = Parse(msg) }); got != 0 {
		t.Errorf("%v allocations per Parse, want 0", got)
	}
	again, err := Parse(append([]byte(nil), msg...))
	if err != nil || again.Header != first.Header {
		t.Errorf("Parse again = %+v, %v; want %+v", again.Header, err, first.Header)
	}
}

// TestInternTableBounded checks that the table returns each string, keeps
// at most maxInterned, and hands out the kept string again without
// allocating.
func TestInternTableBounded(t *testing.T) {
	var tab internTable
	for i := range 3 * maxInterned {
		s := ":1." + strconv.Itoa(i)
		if got := tab.get([]byte(s)); got != s {
			t.Fatalf("get(%q) = %q", s, got)
		}
		if len(tab.m) > maxInterned {
			t.Fatalf("%d strings kept, more than %d", len(tab.m), maxInterned)
		}
	}
	b := []byte(":1.7")
	tab.get(b)
	if n := testing.AllocsPerRun(100, func() { _ = tab.get(b) }); n != 0 {
		t.Errorf("%v allocations for a kept string, want 0", n)
	}
}

// TestPathAlias reads the path of messages godbus encodes, in both byte
// orders, as Parse does, and refuses broken framing.
func TestPathAlias(t *testing.T) {
	signal := map[dbus.HeaderField]any{dbus.FieldPath: dbus.ObjectPath("/org/freedesktop/systemd1/unit/a_2eservice"),
		dbus.FieldInterface: "org.freedesktop.DBus.Properties", dbus.FieldMember: "PropertiesChanged", dbus.FieldSender: ":1.1"}
	reply := map[dbus.HeaderField]any{dbus.FieldReplySerial: uint32(3), dbus.FieldDestination: ":1.42"}
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, tc := range []struct {
			name    string
			typ     dbus.Type
			headers map[dbus.HeaderField]any
			want    string
		}{
			{"call", dbus.TypeMethodCall, callHeaders(), "/org/freedesktop/machine1"},
			{"signal", dbus.TypeSignal, signal, "/org/freedesktop/systemd1/unit/a_2eservice"},
			{"reply", dbus.TypeMethodReply, reply, ""},
		} {
			t.Run(order.String()+"/"+tc.name, func(t *testing.T) {
				msg := godbusMessage(t, order, tc.typ, tc.headers, "x", uint32(1))
				got, err := PathAlias(msg)
				if err != nil || got != tc.want {
					t.Errorf("PathAlias = %q, %v; want %q", got, err, tc.want)
				}
				if _, err := PathAlias(msg[:len(msg)-1]); err == nil {
					t.Error("a truncated message: no error")
				}
			})
		}
	}
}

// FuzzPathAlias checks that PathAlias never panics and, where Parse
// accepts a message, finds its path.
func FuzzPathAlias(f *testing.F) {
	f.Add(godbusMessage(f, binary.LittleEndian, dbus.TypeMethodCall, callHeaders(), "m-1", []byte{1}, uint32(7)))
	f.Add(godbusMessage(f, binary.BigEndian, dbus.TypeError, map[dbus.HeaderField]any{
		dbus.FieldErrorName: "e.r", dbus.FieldReplySerial: uint32(3)}, "msg"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := PathAlias(b)
		if m, perr := Parse(b); perr == nil && (err != nil || got != m.Path) {
			t.Errorf("PathAlias = %q, %v; Parse's path %q", got, err, m.Path)
		}
	})
}
