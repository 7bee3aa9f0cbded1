package register

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

// godbusDecode decodes b with godbus, the reference implementation.
func godbusDecode(t *testing.T, b []byte) *dbus.Message {
	t.Helper()
	m, err := dbus.DecodeMessage(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("godbus cannot decode %x: %v", b, err)
	}
	return m
}

func TestEncodeRegisterCalls(t *testing.T) {
	for _, tc := range []struct {
		name    string
		keep    bool
		kill    int
		devices []deviceAllow
		want    []any
	}{
		{"register", true, 0, nil,
			[]any{"m1", []byte{1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "svc", "container", uint32(42), "/srv/m1", []int32{7, 9}}},
		{"create", false, 15, []deviceAllow{{"/dev/null", "r"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Client{conn: &conn{name: ":1.7"}, service: "svc", devices: tc.devices}
			var e encoder
			m := &message{typ: typeCall, serial: 5, path: Path, iface: Interface, destination: BusName,
				member: "RegisterMachineWithNetwork", signature: "sayssusai"}
			e.string("m1")
			e.bytes([]byte{1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
			e.string(c.service)
			e.string("container")
			e.uint32(42)
			e.string("/srv/m1")
			e.array(4, func() { e.uint32(7); e.uint32(9) })
			if !tc.keep {
				m.member, m.signature = "CreateMachineWithNetwork", "sayssusaia(sv)"
				scopeProperties(&e, c.conn.name, c.devices, tc.kill)
			}
			m.body = e.b
			got := godbusDecode(t, m.encode())
			if got.Type != dbus.TypeMethodCall || got.Serial() != 5 {
				t.Errorf("type %v serial %d, want a call with serial 5", got.Type, got.Serial())
			}
			for f, want := range map[dbus.HeaderField]any{
				dbus.FieldPath: dbus.ObjectPath(Path), dbus.FieldInterface: Interface, dbus.FieldMember: m.member,
				dbus.FieldDestination: BusName, dbus.FieldSignature: dbus.ParseSignatureMust(m.signature),
			} {
				if v := got.Headers[f].Value(); !cmp.Equal(v, want, cmp.Comparer(func(a, b dbus.Signature) bool { return a.String() == b.String() })) {
					t.Errorf("header %d = %v, want %v", f, v, want)
				}
			}
			if tc.want != nil {
				if diff := cmp.Diff(tc.want, got.Body); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
				return
			}
			props, ok := got.Body[7].([][]any)
			if !ok {
				t.Fatalf("properties %T, want a(sv)", got.Body[7])
			}
			var names []string
			for _, p := range props {
				names = append(names, p[0].(string)+"="+p[1].(dbus.Variant).String())
			}
			want := []string{`Controller=":1.7"`, `DevicePolicy="closed"`,
				`DeviceAllow=[["/dev/net/tun", "rwm"], ["char-pts", "rw"]]`, `DeviceAllow=[["/dev/null", "r"]]`,
				`KillSignal=15`, `KillMode="mixed"`}
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("properties (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeGodbusMessages(t *testing.T) {
	reply := &dbus.Message{Type: dbus.TypeMethodReply, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldReplySerial: dbus.MakeVariant(uint32(3)),
		dbus.FieldSender:      dbus.MakeVariant("org.freedesktop.DBus"),
		dbus.FieldDestination: dbus.MakeVariant(":1.9"),
		dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf(dbus.ObjectPath(""))),
	}, Body: []any{dbus.ObjectPath("/org/freedesktop/machine1/machine/m1")}}
	errReply := &dbus.Message{Type: dbus.TypeError, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldReplySerial: dbus.MakeVariant(uint32(4)),
		dbus.FieldErrorName:   dbus.MakeVariant("org.freedesktop.DBus.Error.ServiceUnknown"),
		dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf("")),
	}, Body: []any{"The name is not activatable"}}
	signal := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:      dbus.MakeVariant(dbus.ObjectPath("/org/freedesktop/systemd1/unit/m_2escope")),
		dbus.FieldInterface: dbus.MakeVariant(scopeIface),
		dbus.FieldMember:    dbus.MakeVariant(requestStop),
		dbus.FieldSender:    dbus.MakeVariant(":1.1"),
	}}
	for _, tc := range []struct {
		name      string
		m         *dbus.Message
		want      message
		wantFirst string
		wantErr   string
	}{
		{"reply", reply, message{typ: typeReturn, replySerial: 3, sender: "org.freedesktop.DBus", destination: ":1.9", signature: "o"},
			"/org/freedesktop/machine1/machine/m1", ""},
		{"error", errReply, message{typ: typeError, replySerial: 4, errName: "org.freedesktop.DBus.Error.ServiceUnknown", signature: "s"},
			"The name is not activatable", "The name is not activatable"},
		{"signal", signal, message{typ: typeSignal, path: "/org/freedesktop/systemd1/unit/m_2escope", iface: scopeIface,
			member: requestStop, sender: ":1.1"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.Flags = 0
			var b bytes.Buffer
			if err := tc.m.EncodeTo(&b, binary.LittleEndian); err != nil {
				t.Fatal(err)
			}
			got, err := decodeMessage(b.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			first, _ := got.firstString()
			gotErr := ""
			if err := got.err(); err != nil {
				gotErr = err.Error()
			}
			got.serial, got.body = 0, nil
			if diff := cmp.Diff(tc.want, *got, cmp.AllowUnexported(message{})); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			if first != tc.wantFirst {
				t.Errorf("first string %q, want %q", first, tc.wantFirst)
			}
			if gotErr != tc.wantErr {
				t.Errorf("error %q, want %q", gotErr, tc.wantErr)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	good := (&message{typ: typeCall, serial: 1, path: "/p", member: "M", signature: "s", body: stringBody("x")}).encode()
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"big-endian", append([]byte{'B'}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"huge body", append(append([]byte{}, good[:4]...), append([]byte{0xff, 0xff, 0xff, 0x7f}, good[8:]...)...)},
		{"field of unknown type", func() []byte {
			var e encoder
			e.b = append(e.b, 'l', typeCall, 0, 1)
			e.uint32(0)
			e.uint32(1)
			e.array(8, func() { e.byte(fieldPath); e.variant("t", func() { e.uint32(0); e.uint32(0) }) })
			e.align(8)
			return e.b
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if m, err := decodeMessage(tc.b); err == nil {
				t.Errorf("decodeMessage(%x) = %+v, want an error", tc.b, m)
			}
		})
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add((&message{typ: typeCall, serial: 1, path: "/p", iface: "i.f", member: "M", destination: "d.e",
		signature: "s", replySerial: 9, body: stringBody("x")}).encode())
	f.Add((&message{typ: typeError, errName: "e.r", signature: "s", body: stringBody("msg")}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			return
		}
		_, _ = m.firstString()
		_ = m.err()
	})
}

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct {
		addr, want string
		wantErr    bool
	}{
		{addr: "unix:path=/run/dbus/system_bus_socket", want: "/run/dbus/system_bus_socket"},
		{addr: "unix:path=/tmp/a%20b,guid=00", want: "/tmp/a b"},
		{addr: "unix:abstract=/tmp/dbus-x", want: "@/tmp/dbus-x"},
		{addr: "tcp:host=localhost,port=1", wantErr: true},
		{addr: "unix:path=/tmp/%2", wantErr: true},
		{addr: "unix:guid=00", wantErr: true},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			sa, err := parseAddress(tc.addr)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseAddress(%q) error %v, want error %v", tc.addr, err, tc.wantErr)
			}
			if err == nil && sa.Name != tc.want {
				t.Errorf("parseAddress(%q) = %q, want %q", tc.addr, sa.Name, tc.want)
			}
		})
	}
}
