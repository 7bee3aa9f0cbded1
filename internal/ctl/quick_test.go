package ctl

import (
	"bytes"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

func TestMethodCall(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"Hello", nil},
		{"StartMachine", []string{"bb"}},
		{"StartMachine", []string{"a-much-longer-machine-name.example", ""}},
	}
	for _, tc := range tests {
		b, err := methodCall([]byte("x"), 7, "org.freedesktop.machine1", "/org/freedesktop/machine1", "dev.berth.Manager1", tc.name, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := dbus.DecodeMessage(bytes.NewReader(b[1:]))
		if err != nil {
			t.Fatalf("%s %q: %v", tc.name, tc.args, err)
		}
		var body []string
		for _, v := range msg.Body {
			body = append(body, v.(string))
		}
		got := map[string]any{
			"type": msg.Type, "serial": msg.Serial(), "body": body,
			"path":   msg.Headers[dbus.FieldPath].Value(),
			"iface":  msg.Headers[dbus.FieldInterface].Value(),
			"member": msg.Headers[dbus.FieldMember].Value(),
			"dest":   msg.Headers[dbus.FieldDestination].Value(),
		}
		want := map[string]any{
			"type": dbus.TypeMethodCall, "serial": uint32(7), "body": tc.args,
			"path": dbus.ObjectPath("/org/freedesktop/machine1"), "iface": "dev.berth.Manager1",
			"member": tc.name, "dest": "org.freedesktop.machine1",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s %q (-want +got):\n%s", tc.name, tc.args, diff)
		}
	}
}

func TestUnixAddress(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"", "/var/run/dbus/system_bus_socket", true},
		{"unix:path=/run/dbus/system_bus_socket", "/run/dbus/system_bus_socket", true},
		{"unix:path=/tmp/bus,guid=0123", "/tmp/bus", true},
		{"unix:abstract=/tmp/dbus-x", "@/tmp/dbus-x", true},
		{"unix:path=/tmp/a%20b", "/tmp/a b", true},
		{"unix:tmpdir=/tmp", "", false},
		{"tcp:host=localhost,port=1", "", false},
		{"unix:path=/a;unix:path=/b", "", false},
		{"unix:", "", false},
	}
	for _, tc := range tests {
		a, ok := unixAddress(tc.in)
		var got string
		if ok {
			got = a.Name
		}
		if ok != tc.ok || got != tc.want {
			t.Errorf("unixAddress(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzReadReply feeds readReply arbitrary bytes from the bus: it must
// return (an error, mostly) without panicking.
func FuzzReadReply(f *testing.F) {
	call, err := methodCall(nil, 1, "d", "/p", "i.f", "M", "x")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(call)
	f.Add([]byte("l\x02\x00\x01\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = readReply(bytes.NewReader(b), 2)
	})
}
