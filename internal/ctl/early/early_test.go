//go:build linux && cgo

package early

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/dbuswire"
)

func TestEncodeCall(t *testing.T) {
	tests := []struct {
		member, sig, str string
		flag             bool
		want             []any
	}{
		{"StartMachine", "s", "bb", false, []any{"bb"}},
		{"StartMachine", "s", "", false, []any{""}},
		{"PowerOffMachine", "sb", "a-much-longer-machine-name.example", true, []any{"a-much-longer-machine-name.example", true}},
		{"PowerOffMachine", "sb", "x", false, []any{"x", false}},
		{"Hello", "", "", false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.member+"/"+tc.str, func(t *testing.T) {
			msg, err := dbus.DecodeMessage(bytes.NewReader(encodeCall(7, tc.member, tc.sig, tc.str, tc.flag)))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]any{
				"type": msg.Type, "serial": msg.Serial(), "body": msg.Body,
				"path":   msg.Headers[dbus.FieldPath].Value(),
				"iface":  msg.Headers[dbus.FieldInterface].Value(),
				"member": msg.Headers[dbus.FieldMember].Value(),
				"dest":   msg.Headers[dbus.FieldDestination].Value(),
			}
			want := map[string]any{
				"type": dbus.TypeMethodCall, "serial": uint32(7), "body": tc.want,
				"path": dbus.ObjectPath("/org/freedesktop/machine1"), "iface": "dev.berth.Manager1",
				"member": tc.member, "dest": "org.freedesktop.machine1",
			}
			if tc.want == nil {
				want["body"] = []any(nil)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestEncodeAuth(t *testing.T) {
	for _, uid := range []uint32{0, 7, 1000, 4294967294} {
		if got, want := encodeAuth(uid), dbuswire.AppendAuth(nil, int(uid)); !bytes.Equal(got, want) {
			t.Errorf("uid %d: %q, want %q", uid, got, want)
		}
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		want command
		ok   bool
	}{
		{[]string{"start", "bb"}, command{"StartMachine", false, 1}, true},
		{[]string{"start", "a", "b", "c"}, command{"StartMachine", false, 3}, true},
		{[]string{"reboot", "bb"}, command{"RebootMachine", false, 1}, true},
		{[]string{"terminate", "bb"}, command{"TerminateMachine", false, 1}, true},
		{[]string{"poweroff", "bb"}, command{"PowerOffMachine", false, 1}, true},
		{[]string{"poweroff", "--force", "bb"}, command{"PowerOffMachine", true, 1}, true},
		{[]string{"poweroff", "bb", "--force", "cc"}, command{"PowerOffMachine", true, 2}, true},
		{[]string{"start", "bad/name"}, command{"StartMachine", false, 1}, true}, // berthd refuses it
		{[]string{"start"}, command{}, false},
		{[]string{"poweroff", "--force"}, command{}, false},
		{[]string{"start", "--force", "bb"}, command{}, false},
		{[]string{"poweroff", "--force=true", "bb"}, command{}, false},
		{[]string{"start", "--", "bb"}, command{}, false},
		{[]string{"start", "-h"}, command{}, false},
		{[]string{"start", "bb", "--help"}, command{}, false},
		{[]string{"--bus-name=x", "start", "bb"}, command{}, false},
		{[]string{"list"}, command{}, false},
		{[]string{"enable", "bb"}, command{}, false},
		{[]string{"Start", "bb"}, command{}, false},
		{[]string{"start", "b\xffb"}, command{}, false},
		{nil, command{}, false},
	}
	for _, tc := range tests {
		got, ok := parseArgs(tc.args)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseArgs(%q) = %+v, %v; want %+v, %v", tc.args, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBusSocket(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "/var/run/dbus/system_bus_socket"},
		{"unix:path=/run/dbus/system_bus_socket", "/run/dbus/system_bus_socket"},
		{"unix:path=/tmp/bus,guid=0123", "/tmp/bus"},
		{"unix:guid=0123,path=/tmp/bus", "/tmp/bus"},
		{"unix:abstract=/tmp/dbus-x", "@/tmp/dbus-x"},
		{"unix:abstract=x,path=/y", "@x"},
		{"unix:path=" + strings.Repeat("a", 107), strings.Repeat("a", 107)},
		{"unix:path=" + strings.Repeat("a", 108), ""},
		{"unix:path=/tmp/a%20b", ""},
		{"unix:tmpdir=/tmp", ""},
		{"unix:path=", ""},
		{"unix:path", ""},
		{"tcp:host=localhost,port=1", ""},
		{"unix:path=/a;unix:path=/b", ""},
		{"unix:", ""},
		{"unix", ""},
	}
	for _, tc := range tests {
		if got, ok := busSocket(tc.in); got != tc.want || ok != (tc.want != "") {
			t.Errorf("busSocket(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

// message encodes one message with dbuswire.
func message(t testing.TB, h dbuswire.Header, args ...string) []byte {
	t.Helper()
	var body dbuswire.Encoder
	for _, a := range args {
		body.Str(a)
	}
	h.Signature = strings.Repeat("s", len(args))
	b, err := dbuswire.AppendHeader(nil, &h, len(body.Buf))
	if err != nil {
		t.Fatal(err)
	}
	return append(b, body.Buf...)
}

// replies are streams from the bus, as the early path reads them after
// its second call (serial 2).
func replies(t testing.TB) map[string][]byte {
	hello := message(t, dbuswire.Header{Type: dbuswire.TypeReturn, Serial: 1, ReplySerial: 1}, ":1.5")
	acquired := message(t, dbuswire.Header{Type: dbuswire.TypeSignal, Serial: 2, Path: "/org/freedesktop/DBus",
		Interface: "org.freedesktop.DBus", Member: "NameAcquired"}, ":1.5")
	ok := message(t, dbuswire.Header{Type: dbuswire.TypeReturn, Serial: 9, ReplySerial: 2})
	failed := message(t, dbuswire.Header{Type: dbuswire.TypeError, Serial: 9, ReplySerial: 2,
		ErrorName: "org.freedesktop.machine1.NoSuchImage"}, "no image ‘x’", "more")
	bare := message(t, dbuswire.Header{Type: dbuswire.TypeError, Serial: 9, ReplySerial: 2, ErrorName: "a.B"})
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	return map[string][]byte{
		"return":               cat(hello, acquired, ok),
		"error":                cat(hello, acquired, failed),
		"error without body":   cat(hello, bare),
		"other reply first":    cat(message(t, dbuswire.Header{Type: dbuswire.TypeError, Serial: 3, ReplySerial: 1, ErrorName: "x.Y"}), ok),
		"empty":                nil,
		"hung up":              cat(hello, acquired),
		"hung up mid-message":  cat(hello, ok[:len(ok)-1]),
		"hung up in header":    cat(hello, ok[:7]),
		"bad byte order":       cat(hello, []byte("x\x02\x00\x01"), ok[4:]),
		"bad version":          append(append([]byte{}, ok[:3]...), append([]byte{2}, ok[4:]...)...),
		"too long":             append([]byte("l\x02\x00\x01\x00\x00\x20\x00"), ok[8:]...),
		"bad header field":     append(append(append([]byte{}, ok[:16]...), 0), ok[17:]...), // code 0
		"type 0":               append([]byte("l\x00\x00\x01"), ok[4:]...),
		"big-endian error":     bigEndianError(),
		"error, non-UTF-8 msg": cat(bytes.Replace(failed, []byte("‘x’"), []byte("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7"), 1)),
	}
}

// bigEndianError is an error reply to serial 2, name "a.B", message "hi",
// in big-endian byte order.
func bigEndianError() []byte {
	b := []byte{'B', 3, 0, 1, 0, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0, 31}
	b = append(b, 4, 1, 's', 0, 0, 0, 0, 3, 'a', '.', 'B', 0, 0, 0, 0, 0) // ERROR_NAME
	b = append(b, 5, 1, 'u', 0, 0, 0, 0, 2, 8, 1, 'g', 0, 1, 's', 0)      // REPLY_SERIAL, SIGNATURE
	b = append(b, 0)                                                      // padding to 8
	return append(b, 0, 0, 0, 2, 'h', 'i', 0)
}

// goReply is what internal/dbuswire, Go's reader of the same wire, makes
// of b: the reference the C reader must agree with.
func goReply(b []byte, serial uint32) reply {
	in := bytes.NewReader(b)
	for {
		msg, err := dbuswire.ReadMessage(in, maxReply)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return reply{Kind: replyEOF}
		}
		if err != nil {
			return reply{Kind: replyMalformed}
		}
		m, err := dbuswire.Parse(msg)
		if err != nil {
			return reply{Kind: replyMalformed}
		}
		if (m.Type != dbuswire.TypeReturn && m.Type != dbuswire.TypeError) || m.ReplySerial != serial {
			continue
		}
		if m.Type == dbuswire.TypeReturn {
			return reply{Kind: replyReturn}
		}
		r := reply{Kind: replyError, Name: m.ErrorName}
		if strings.HasPrefix(m.Signature, "s") {
			d := m.Args()
			if s := d.Str(); d.Err() == nil {
				r.Msg, r.HasMsg = s, true
			}
		}
		return r
	}
}

func TestReadReply(t *testing.T) {
	want := map[string]reply{
		"return":               {Kind: replyReturn},
		"error":                {Kind: replyError, Name: "org.freedesktop.machine1.NoSuchImage", Msg: "no image ‘x’", HasMsg: true},
		"error without body":   {Kind: replyError, Name: "a.B"},
		"other reply first":    {Kind: replyReturn},
		"empty":                {Kind: replyEOF},
		"hung up":              {Kind: replyEOF},
		"hung up mid-message":  {Kind: replyEOF},
		"hung up in header":    {Kind: replyEOF},
		"bad byte order":       {Kind: replyMalformed},
		"bad version":          {Kind: replyMalformed},
		"too long":             {Kind: replyMalformed},
		"bad header field":     {Kind: replyMalformed},
		"type 0":               {Kind: replyMalformed},
		"big-endian error":     {Kind: replyError, Name: "a.B", Msg: "hi", HasMsg: true},
		"error, non-UTF-8 msg": {Kind: replyError, Name: "org.freedesktop.machine1.NoSuchImage"},
	}
	for name, b := range replies(t) {
		t.Run(name, func(t *testing.T) {
			got := readReply(b, 2)
			if diff := cmp.Diff(want[name], got); diff != "" {
				t.Errorf("C reader (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(goReply(b, 2), got); diff != "" {
				t.Errorf("C reader against Go's (-go +c):\n%s", diff)
			}
		})
	}
}

// FuzzReadReply feeds the C reader arbitrary bytes from the bus: it must
// not crash, and must make of them what Go's reader (internal/dbuswire)
// makes: the same reply, error name and message, the same hang-up, the
// same refusal of a malformed message.
func FuzzReadReply(f *testing.F) {
	for _, b := range replies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, got := goReply(b, 2), readReply(b, 2)
		want.Name, want.Msg = cut(want.Name), cut(want.Msg) // readReply's limit
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("C reader against Go's (-go +c):\n%s", diff)
		}
	})
}

// cut shortens s to what readReply returns of it.
func cut(s string) string { return s[:min(len(s), 4095)] }
