package containernet

import (
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/google/go-cmp/cmp"
)

// seen is what one spawner made of a machine's veth.
type seen struct {
	HostName, HostMAC, ContainerMAC string
	AltNames                        []string
}

// observe runs bin with -n for machine in a fresh namespace and records
// the veth while the container runs.
func observe(t *testing.T, bin, img, machine string) seen {
	t.Helper()
	ns := testbed.NewNetNS(t)
	h := handle(t, ns)
	r := start(t, ns, spawnerEnv(nil), bin,
		"-q", "--pipe", "--keep-unit", "--register=no", "-D", img, "-M", machine, "-n", "/bin/sh", "-c", holdScript)
	out := r.until(t, "ready")
	var s seen
	if len(out) == 1 {
		s.ContainerMAC = out[0]
	}
	names := linkNames(t, h, "ve-")
	if len(names) != 1 {
		t.Fatalf("%s: host links %v, want one ve-*", bin, names)
	}
	l, err := h.LinkByName(names[0])
	if err != nil {
		t.Fatal(err)
	}
	s.HostName, s.HostMAC, s.AltNames = names[0], l.Attrs().HardwareAddr.String(), l.Attrs().AltNames
	r.stop(t)
	return s
}

// TestIntegrationLongNames starts two machines whose names share their
// first 12 characters: berth gives them distinct shortened ve-* names
// with the full name as altname, the same names and MAC addresses as
// systemd-nspawn.
func TestIntegrationLongNames(t *testing.T) {
	testbed.RequireRoot(t)
	nspawnBin := testbed.RequireTool(t, "systemd-nspawn")
	berth := testbed.Binary(t, "berth-nspawn")
	img := testbed.BusyboxImage(t)
	got := map[string]bool{}
	for _, machine := range []string{"longmachine-alpha", "longmachine-bravo", "short"} {
		t.Run(machine, func(t *testing.T) {
			want := observe(t, nspawnBin, img, machine)
			b := observe(t, berth, img, machine)
			if diff := cmp.Diff(want, b); diff != "" {
				t.Errorf("systemd-nspawn (-) and berth-nspawn (+) differ:\n%s", diff)
			}
			name, alt := HostIfName(PrefixVeth, machine)
			if b.HostName != name || (alt != "" && !cmp.Equal(b.AltNames, []string{alt})) {
				t.Errorf("host link %s %v, want %s %s", b.HostName, b.AltNames, name, alt)
			}
			if got[b.HostName] {
				t.Errorf("host link name %s given twice", b.HostName)
			}
			got[b.HostName] = true
		})
	}
}
