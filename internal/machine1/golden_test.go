package machine1_test

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"

	"github.com/godbus/dbus/v5/introspect"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/dbus-interfaces"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationIntrospectionGolden compares what the running berthd
// exports, as the real busctl reads it, with the files in dbus-interfaces/.
func TestIntegrationIntrospectionGolden(t *testing.T) {
	testbed.RequireRoot(t)
	bus := testbed.StartBus(t)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(paths.Under(root).Pool, "img1"), 0o755); err != nil {
		t.Fatal(err)
	}
	startBerthd(t, bus, root)
	l := startLeader(t)
	register(t, "golden-1", l.PID, "")
	tests := []struct {
		path   string
		ifaces []string
	}{
		{"/org/freedesktop/machine1", []string{dbusinterfaces.Manager, dbusinterfaces.BerthManager}},
		{"/org/freedesktop/machine1/machine/golden_2d1", []string{dbusinterfaces.Machine, dbusinterfaces.BerthMachine}},
		{"/org/freedesktop/machine1/machine/_2ehost", []string{dbusinterfaces.Machine, dbusinterfaces.BerthMachine}},
		{"/org/freedesktop/machine1/image/img1", []string{dbusinterfaces.Image}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			out, err := busctl(t, false, "introspect", "--xml-interface", busName, tt.path)
			if err != nil {
				t.Fatalf("busctl introspect: %v\n%s", err, out)
			}
			got := interfaces(t, out)
			for _, name := range tt.ifaces {
				doc, err := dbusinterfaces.Document(name)
				if err != nil {
					t.Fatal(err)
				}
				want := interfaces(t, doc)[name]
				if diff := cmp.Diff(want, got[name]); diff != "" {
					t.Errorf("%s (-dbus-interfaces +exported):\n%s", name, diff)
				}
			}
		})
	}
	t.Run("tree", func(t *testing.T) {
		out, err := busctl(t, false, "tree", "--list", busName)
		if err != nil {
			t.Fatalf("busctl tree: %v\n%s", err, out)
		}
		want := "/\n/org\n/org/freedesktop\n/org/freedesktop/machine1\n/org/freedesktop/machine1/image\n" +
			"/org/freedesktop/machine1/image/_2ehost\n/org/freedesktop/machine1/image/img1\n/org/freedesktop/machine1/machine\n" +
			"/org/freedesktop/machine1/machine/_2ehost\n/org/freedesktop/machine1/machine/golden_2d1\n"
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("busctl tree (-want +got):\n%s", diff)
		}
	})
}

func interfaces(t *testing.T, doc string) map[string]introspect.Interface {
	t.Helper()
	var n introspect.Node
	if err := xml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatalf("parse introspection: %v\n%s", err, doc)
	}
	out := map[string]introspect.Interface{}
	for _, i := range n.Interfaces {
		out[i.Name] = i
	}
	return out
}
