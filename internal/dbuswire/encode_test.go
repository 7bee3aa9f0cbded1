package dbuswire

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

// headerCases are headers of every message type berth writes.
var headerCases = []struct {
	name string
	h    Header
}{
	{"call", Header{Type: TypeCall, Flags: FlagNoReplyExpected, Serial: 7, Path: "/org/freedesktop/machine1",
		Interface: "dev.berth.Manager1", Member: "StartMachine", Destination: "org.freedesktop.machine1", Signature: "s"}},
	{"return", Header{Type: TypeReturn, Serial: 1<<31 | 3, ReplySerial: 42, Destination: ":1.9", Signature: "h", UnixFDs: 1}},
	{"error", Header{Type: TypeError, Serial: 2, ErrorName: "org.freedesktop.DBus.Error.Failed", ReplySerial: 1, Sender: ":1.1"}},
	{"signal", Header{Type: TypeSignal, Serial: 9, Path: "/", Interface: "a.b", Member: "C"}},
}

// TestHeaderMatchesGodbus decodes headers and bodies the encoder writes
// with godbus, the reference implementation.
func TestHeaderMatchesGodbus(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			var e Encoder
			want := []any{}
			for _, c := range tc.h.Signature {
				switch c {
				case 's':
					e.Str("ü")
					want = append(want, "ü")
				case 'h':
					e.Uint32(0)
					want = append(want, dbus.UnixFDIndex(0))
				}
			}
			msg, err := AppendHeader(nil, &tc.h, len(e.Buf))
			if err != nil {
				t.Fatal(err)
			}
			m, err := dbus.DecodeMessage(bytes.NewReader(append(msg, e.Buf...)))
			if err != nil {
				t.Fatalf("godbus: %v", err)
			}
			got := Header{Type: byte(m.Type), Flags: byte(m.Flags), Serial: m.Serial()}
			for f, v := range m.Headers {
				var s string
				var u uint32
				switch x := v.Value().(type) {
				case string:
					s = x
				case dbus.ObjectPath:
					s = string(x)
				case dbus.Signature:
					s = x.String()
				case uint32:
					u = x
				}
				got.set(byte(f), s, u)
			}
			if diff := cmp.Diff(tc.h, got); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, m.Body); diff != "" && len(want) > 0 {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValuesMatchGodbus encodes a body of every primitive and compares
// godbus's decoding of it with the values.
func TestValuesMatchGodbus(t *testing.T) {
	var e Encoder
	e.Byte(3)
	e.Uint16(uint16(0xfffe))
	e.Uint32(1)
	e.Uint64(math.Float64bits(1.5))
	e.Path("/a/b_2d1")
	e.Bytes([]byte{1, 2})
	dict := e.StartArray(8)
	for _, k := range []string{"a", "b"} {
		e.Align(8)
		e.Str(k)
		e.Sig("at")
		a := e.StartArray(8)
		e.Uint64(uint64(len(k)))
		e.EndArray(a)
	}
	e.EndArray(dict)
	empty := e.StartArray(8)
	e.EndArray(empty)
	e.Sig("(su)")
	e.Align(8)
	e.Str("x")
	e.Uint32(2)
	const sig = "yqudoaya{sv}a(ss)v"
	h := Header{Type: TypeReturn, Serial: 1, ReplySerial: 1, Signature: sig}
	msg, err := AppendHeader(nil, &h, len(e.Buf))
	if err != nil || e.Err() != nil {
		t.Fatal(err, e.Err())
	}
	m, err := dbus.DecodeMessage(bytes.NewReader(append(msg, e.Buf...)))
	if err != nil {
		t.Fatalf("godbus: %v", err)
	}
	want := []any{byte(3), uint16(0xfffe), uint32(1), 1.5, dbus.ObjectPath("/a/b_2d1"), []byte{1, 2},
		map[string]dbus.Variant{"a": dbus.MakeVariant([]uint64{1}), "b": dbus.MakeVariant([]uint64{1})},
		[][]any{}, dbus.MakeVariantWithSignature([]any{"x", uint32(2)}, dbus.ParseSignatureMust("(su)"))}
	if diff := cmp.Diff(want, m.Body, cmp.Comparer(func(a, b dbus.Variant) bool { return a.String() == b.String() })); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestEncoderRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  func(e *Encoder)
	}{
		{"not UTF-8", func(e *Encoder) { e.Str("\xff") }},
		{"NUL", func(e *Encoder) { e.Str("a\x00b") }},
		{"bad path", func(e *Encoder) { e.Path("/a//b") }},
		{"long signature", func(e *Encoder) { e.Sig(strings.Repeat("s", 256)) }},
		{"huge array", func(e *Encoder) {
			a := e.StartArray(1)
			e.Buf = append(e.Buf, make([]byte, MaxArray+1)...)
			e.EndArray(a)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e Encoder
			tc.enc(&e)
			if !errors.Is(e.Err(), ErrInvalid) {
				t.Errorf("Err() = %v, want ErrInvalid", e.Err())
			}
		})
	}
	h := Header{Type: TypeSignal, Path: "a"}
	if _, err := AppendHeader(nil, &h, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("AppendHeader with a bad path = %v, want ErrInvalid", err)
	}
	h = Header{Type: TypeReturn, ReplySerial: 1}
	if _, err := AppendHeader(nil, &h, MaxMessage); !errors.Is(err, ErrInvalid) {
		t.Errorf("AppendHeader of a message too long = %v, want ErrInvalid", err)
	}
}

// TestAppendHeaderAfterBytes checks that a header appended after other
// bytes aligns from its own start.
func TestAppendHeaderAfterBytes(t *testing.T) {
	h := headerCases[0].h
	alone, err := AppendHeader(nil, &h, 8)
	if err != nil {
		t.Fatal(err)
	}
	after, err := AppendHeader([]byte("abc"), &h, 8)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(alone, after[3:]); diff != "" {
		t.Errorf("(-alone +after):\n%s", diff)
	}
}

func TestValidObjectPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/a": true, "/a/b_2d1": true, "": false, "a": false, "/a/": false, "//": false, "/a-b": false, "/a//b": false,
	} {
		if got := ValidObjectPath(p); got != want {
			t.Errorf("ValidObjectPath(%q) = %v, want %v", p, got, want)
		}
	}
}
