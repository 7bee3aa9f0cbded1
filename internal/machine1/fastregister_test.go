package machine1

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/machine"
)

// TestDecodeSpec decodes registration calls encoded by godbus, in both
// byte orders, and leaves calls with scope properties to godbus.
func TestDecodeSpec(t *testing.T) {
	id := []byte("0123456789abcdef")
	spec := machine.Spec{Name: "m-1", ID: id, Service: "nspawn", Class: "container", Leader: 4242, RootDirectory: "/var/lib/machines/m-1"}
	withNet := spec
	withNet.NetworkInterfaces = []int32{7, 9}
	noID := spec
	noID.ID = nil
	prop := []scopeProperty{{"KillSignal", dbus.MakeVariant(int32(15))}}
	for _, tc := range []struct {
		name   string
		member string
		args   []any
		want   machine.Spec
		ok     bool
	}{
		{"register", "RegisterMachine", []any{"m-1", id, "nspawn", "container", uint32(4242), "/var/lib/machines/m-1"}, spec, true},
		{"register no id", "RegisterMachine", []any{"m-1", []byte{}, "nspawn", "container", uint32(4242), "/var/lib/machines/m-1"}, noID, true},
		{"register network", "RegisterMachineWithNetwork", []any{"m-1", id, "nspawn", "container", uint32(4242), "/var/lib/machines/m-1", []int32{7, 9}}, withNet, true},
		{"create", "CreateMachine", []any{"m-1", id, "nspawn", "container", uint32(4242), "/var/lib/machines/m-1", []scopeProperty{}}, spec, true},
		{"create network", "CreateMachineWithNetwork", []any{"m-1", id, "nspawn", "container", uint32(4242), "/var/lib/machines/m-1", []int32{7, 9}, []scopeProperty{}}, withNet, true},
		{"create with properties", "CreateMachine", []any{"m-1", id, "nspawn", "container", uint32(4242), "/var/lib/machines/m-1", prop}, machine.Spec{}, false},
	} {
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			t.Run(tc.name+" "+order.String(), func(t *testing.T) {
				c, err := parseCall(godbusCall(t, order, "org.freedesktop.machine1.Manager", tc.member, 0, tc.args...))
				if err != nil {
					t.Fatal(err)
				}
				if c.Signature != registerSigs[tc.member] {
					t.Fatalf("signature %q, want %q", c.Signature, registerSigs[tc.member])
				}
				got, ok := decodeSpec(c)
				if ok != tc.ok {
					t.Fatalf("decodeSpec ok = %v, want %v", ok, tc.ok)
				}
				if ok {
					if diff := cmp.Diff(tc.want, got); diff != "" {
						t.Errorf("(-want +got):\n%s", diff)
					}
				}
			})
		}
	}
}

// FuzzDecodeSpec feeds the registration decoder (its input comes from any
// root caller) arbitrary bodies: it must never panic, and whatever it
// accepts godbus must decode to the same spec.
func FuzzDecodeSpec(f *testing.F) {
	f.Add("RegisterMachineWithNetwork", godbusCall(f, binary.LittleEndian, "org.freedesktop.machine1.Manager", "RegisterMachineWithNetwork", 0,
		"m-1", []byte("0123456789abcdef"), "nspawn", "container", uint32(4242), "/", []int32{7}))
	f.Add("CreateMachine", godbusCall(f, binary.BigEndian, "org.freedesktop.machine1.Manager", "CreateMachine", 0,
		"m-1", []byte{}, "", "", uint32(1), "", []scopeProperty{}))
	f.Fuzz(func(t *testing.T, member string, msg []byte) {
		c, err := parseCall(msg)
		if err != nil || registerSigs[member] == "" || c.Signature != registerSigs[member] {
			return
		}
		c.Member = member
		got, ok := decodeSpec(c)
		if !ok {
			return
		}
		m, err := dbus.DecodeMessage(bytes.NewReader(msg))
		if err != nil || len(m.Body) < 6 {
			return // godbus judges more than the body (header fields)
		}
		want := machine.Spec{Name: m.Body[0].(string), Service: m.Body[2].(string), Class: machine.Class(m.Body[3].(string)),
			Leader: m.Body[4].(uint32), RootDirectory: m.Body[5].(string)}
		if id := m.Body[1].([]byte); len(id) > 0 {
			want.ID = id
		}
		if len(m.Body) > 6 {
			if ifs, ok := m.Body[6].([]int32); ok && len(ifs) > 0 {
				want.NetworkInterfaces = ifs
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("decodeSpec and godbus differ (-godbus +decodeSpec):\n%s", diff)
		}
	})
}
