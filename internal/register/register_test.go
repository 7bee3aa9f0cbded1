package register

import (
	"bytes"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/dbuswire"
	"github.com/berth-dev/berth/internal/spawn"
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
	uuid := [16]byte{1, 2, 3}
	for _, tc := range []struct {
		name    string
		keep    bool
		kill    int
		devices []deviceAllow
		want    []any
	}{
		{"register", true, 0, nil,
			[]any{"m1", uuid[:], "svc", "container", uint32(42), "/srv/m1", []int32{7, 9}}},
		{"create", false, 15, []deviceAllow{{"/dev/null", "r"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Client{conn: &conn{name: ":1.7"}, service: "svc", devices: tc.devices}
			h, body, err := c.registerCall(spawn.Machine{Name: "m1", UUID: uuid, Leader: 42, Directory: "/srv/m1",
				NetIfIndices: []int{7, 9}, KeepUnit: tc.keep, KillSignal: tc.kill})
			if err != nil {
				t.Fatal(err)
			}
			h.Serial = 5
			msg, err := dbuswire.AppendHeader(nil, &h, len(body))
			if err != nil {
				t.Fatal(err)
			}
			got := godbusDecode(t, append(msg, body...))
			if got.Type != dbus.TypeMethodCall || got.Serial() != 5 {
				t.Errorf("type %v serial %d, want a call with serial 5", got.Type, got.Serial())
			}
			for f, want := range map[dbus.HeaderField]any{
				dbus.FieldPath: dbus.ObjectPath(Path), dbus.FieldInterface: Interface, dbus.FieldMember: h.Member,
				dbus.FieldDestination: BusName, dbus.FieldSignature: dbus.ParseSignatureMust(h.Signature),
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
