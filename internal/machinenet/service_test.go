package machinenet

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/containernet"
	"github.com/berth-dev/berth/internal/netwatch"
	"github.com/berth-dev/berth/internal/nspawnopts"
)

// newService returns a Service whose machines are all unregistered, so
// nothing reaches nftables.
func newService(t *testing.T, state string) *Service {
	t.Helper()
	w, err := netwatch.New(netwatch.Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Watcher: w, StateFile: state,
		Interfaces: func(string) ([]int32, error) { return nil, fs.ErrNotExist }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestForwardsPersist(t *testing.T) {
	state := filepath.Join(t.TempDir(), "sub", "forwards.json")
	s := newService(t, state)
	steps := []struct {
		name string
		do   func() error
		err  error
	}{
		{"add", func() error { return s.Add(Forward{"web", "tcp", 8080, 80}) }, nil},
		{"add again", func() error { return s.Add(Forward{"web", "tcp", 8080, 80}) }, nil},
		{"port taken", func() error { return s.Add(Forward{"db", "tcp", 8080, 5432}) }, fs.ErrExist},
		{"other proto", func() error { return s.Add(Forward{"dns", "udp", 8080, 53}) }, nil},
		{"invalid", func() error { return s.Add(Forward{"web", "tcp", 0, 80}) }, ErrInvalid},
		{"remove", func() error { return s.Remove("dns", "udp", 8080) }, nil},
		{"remove missing", func() error { return s.Remove("dns", "udp", 8080) }, fs.ErrNotExist},
	}
	for _, st := range steps {
		if err := st.do(); !errors.Is(err, st.err) || (st.err == nil) != (err == nil) {
			t.Fatalf("%s: %v, want %v", st.name, err, st.err)
		}
	}
	want := []Applied{{Forward: Forward{"web", "tcp", 8080, 80}, Persistent: true}}
	if diff := cmp.Diff(want, s.Forwards(), cmp.Comparer(func(a, b Applied) bool { return a == b })); diff != "" {
		t.Errorf("forwards (-want +got):\n%s", diff)
	}
	again := newService(t, state)
	again.Sync()
	if diff := cmp.Diff(want, again.Forwards(), cmp.Comparer(func(a, b Applied) bool { return a == b })); diff != "" {
		t.Errorf("forwards after reload (-want +got):\n%s", diff)
	}
}

func TestCorruptStateFileMovedAside(t *testing.T) {
	state := filepath.Join(t.TempDir(), "forwards.json")
	if err := os.WriteFile(state, []byte("{nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := netwatch.New(netwatch.Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Watcher: w, StateFile: state})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state + ".bad"); err != nil || len(s.saved) != 0 {
		t.Errorf("corrupt file not moved aside (%v) or forwards loaded: %v", err, s.saved)
	}
}

// TestPortsFiles reads berth-nspawn's ports files of registered machines
// only, skips bad ones, and lets a persisted forward win a host port.
func TestPortsFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []containernet.PortsFile{
		{Machine: "web", Leader: 1, IfIndex: 2, Ports: []nspawnopts.Port{{Protocol: "tcp", Host: 8080, Container: 80}, {Protocol: "udp", Host: 53, Container: 53}}},
		{Machine: "gone", Leader: 1, IfIndex: 3, Ports: []nspawnopts.Port{{Protocol: "tcp", Host: 9090, Container: 90}}},
	} {
		if err := containernet.WritePorts(dir, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bad"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := netwatch.New(netwatch.Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{"web": true, "db": true, "bad": true}
	s, err := New(Config{Watcher: w, StateFile: filepath.Join(t.TempDir(), "f.json"), PortsDir: dir,
		Interfaces: func(name string) ([]int32, error) {
			if !registered[name] {
				return nil, fs.ErrNotExist
			}
			return nil, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(Forward{"db", "udp", 53, 5353}); err != nil {
		t.Fatal(err)
	}
	want := []Applied{
		{Forward: Forward{"web", "tcp", 8080, 80}},
		{Forward: Forward{"db", "udp", 53, 5353}, Persistent: true},
	}
	if diff := cmp.Diff(want, s.Forwards(), cmp.Comparer(func(a, b Applied) bool { return a == b })); diff != "" {
		t.Errorf("forwards (-want +got):\n%s", diff)
	}
}
