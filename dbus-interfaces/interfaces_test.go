package dbusinterfaces

import (
	"encoding/xml"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
)

func TestEveryFileParses(t *testing.T) {
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			doc, err := Document(name)
			if err != nil {
				t.Fatal(err)
			}
			var node introspect.Node
			if err := xml.Unmarshal([]byte(doc), &node); err != nil {
				t.Fatal(err)
			}
			if len(node.Interfaces) != 1 || node.Interfaces[0].Name != name {
				t.Fatalf("file holds %+v, want exactly interface %s", node.Interfaces, name)
			}
			for _, m := range node.Interfaces[0].Methods {
				for _, a := range m.Args {
					if _, err := dbus.ParseSignature(a.Type); err != nil {
						t.Errorf("%s.%s: %v", name, m.Name, err)
					}
				}
			}
			if _, err := Element(name); err != nil {
				t.Fatal(err)
			}
		})
	}
}
