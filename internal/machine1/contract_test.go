package machine1

import (
	"encoding/xml"
	"sort"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/dbus-interfaces"
	"github.com/berth-dev/berth/internal/machine"
)

// sig is a method's or property's shape: name plus in/out signatures.
type sig struct{ Name, In, Out string }

func contract(t *testing.T, name string) introspect.Interface {
	t.Helper()
	doc, err := dbusinterfaces.Document(name)
	if err != nil {
		t.Fatal(err)
	}
	var n introspect.Node
	if err := xml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	return n.Interfaces[0]
}

func xmlMethods(i introspect.Interface) []sig {
	var out []sig
	for _, m := range i.Methods {
		s := sig{Name: m.Name}
		for _, a := range m.Args {
			if a.Direction == "in" {
				s.In += a.Type
			} else {
				s.Out += a.Type
			}
		}
		out = append(out, s)
	}
	return sorted(out)
}

func goMethods(i iface) []sig {
	var out []sig
	for name, m := range i {
		out = append(out, sig{Name: name, In: m.in.String(), Out: m.out.String()})
	}
	return sorted(out)
}

func xmlProps(i introspect.Interface) []sig {
	var out []sig
	for _, p := range i.Properties {
		out = append(out, sig{Name: p.Name, Out: p.Type})
	}
	return sorted(out)
}

func goProps(ps map[string]dbus.Variant) []sig {
	var out []sig
	for name, v := range ps {
		out = append(out, sig{Name: name, Out: v.Signature().String()})
	}
	return sorted(out)
}

func sorted(s []sig) []sig {
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	return s
}

// TestContract checks that every method and property the adapter
// exports has exactly the name and signature of dbus-interfaces/, and
// that nothing is missing or extra.
func TestContract(t *testing.T) {
	s := New(Options{})
	managerProps, _ := s.managerProps(dbus.Message{})
	machineProps := machineProperties(machine.Machine{})
	imageProps := imageProperties(Image{})
	tests := []struct {
		iface   string
		methods iface
		props   map[string]dbus.Variant
	}{
		{dbusinterfaces.Manager, s.manager[dbusinterfaces.Manager], managerProps[dbusinterfaces.Manager]},
		{dbusinterfaces.BerthManager, s.manager[dbusinterfaces.BerthManager], managerProps[dbusinterfaces.BerthManager]},
		{dbusinterfaces.Machine, s.machineObj[dbusinterfaces.Machine], machineProps[dbusinterfaces.Machine]},
		{dbusinterfaces.BerthMachine, s.machineObj[dbusinterfaces.BerthMachine], machineProps[dbusinterfaces.BerthMachine]},
		{dbusinterfaces.Image, s.imageObj[dbusinterfaces.Image], imageProps[dbusinterfaces.Image]},
	}
	for _, tt := range tests {
		t.Run(tt.iface, func(t *testing.T) {
			want := contract(t, tt.iface)
			if diff := cmp.Diff(xmlMethods(want), goMethods(tt.methods)); diff != "" {
				t.Errorf("methods (-contract +exported):\n%s", diff)
			}
			if diff := cmp.Diff(xmlProps(want), goProps(tt.props)); diff != "" {
				t.Errorf("properties (-contract +exported):\n%s", diff)
			}
		})
	}
}
