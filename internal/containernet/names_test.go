package containernet

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/nspawnopts"
	"github.com/google/go-cmp/cmp"
)

// TestHostIfName checks names against what systemd-nspawn 252 made of the
// same machine names (see TestIntegrationLongNames).
func TestHostIfName(t *testing.T) {
	tests := []struct {
		prefix, machine, name, alt string
	}{
		{PrefixVeth, "short", "ve-short", ""},
		{PrefixVeth, "twelvechars1", "ve-twelvechars1", ""},
		{PrefixVeth, "longmachine-alpha", "ve-longmachNlfj", "ve-longmachine-alpha"},
		{PrefixVeth, "longmachine-bravo", "ve-longmach5Pny", "ve-longmachine-bravo"},
	}
	for _, tt := range tests {
		name, alt := HostIfName(tt.prefix, tt.machine)
		if name != tt.name || alt != tt.alt {
			t.Errorf("HostIfName(%q, %q) = %q, %q; want %q, %q", tt.prefix, tt.machine, name, alt, tt.name, tt.alt)
		}
		if len(name) > 15 {
			t.Errorf("%q is longer than an interface name", name)
		}
	}
}

func TestMAC(t *testing.T) {
	var id [16]byte
	a := MAC(id, "m", hostHashKey, 0)
	if a[0]&1 != 0 || a[0]&2 == 0 {
		t.Errorf("%v is not a unicast, locally administered address", a)
	}
	for _, other := range [][]byte{MAC(id, "m", containerHashKey, 0), MAC(id, "n", hostHashKey, 0), MAC(id, "m", hostHashKey, 1)} {
		if cmp.Equal([]byte(a), other) {
			t.Errorf("MAC %v repeats for different inputs", a)
		}
	}
}

func TestPortsFileRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ports")
	want := PortsFile{Machine: "web", Leader: 42, IfIndex: 7,
		Ports: []nspawnopts.Port{{Protocol: "tcp", Host: 8080, Container: 80}, {Protocol: "udp", Host: 53, Container: 53}}}
	if err := WritePorts(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPorts(PortsPath(dir, "web"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ports file (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file", len(entries))
	}
}

func FuzzParsePorts(f *testing.F) {
	f.Add([]byte(`{"machine":"web","leader":4242,"ifindex":17,"ports":[{"protocol":"tcp","host":8080,"container":80}]}`))
	f.Add([]byte(`{"machine":"web","leader":1,"ifindex":0,"ports":[{"protocol":"sctp","host":1,"container":1}]}`))
	f.Add([]byte(`{"ports":null}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePorts(data)
		if err != nil {
			return
		}
		for _, q := range p.Ports {
			if q.Host == 0 || q.Container == 0 {
				t.Fatalf("ParsePorts accepted port 0: %+v", p)
			}
		}
	})
}
