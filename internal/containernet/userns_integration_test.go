package containernet

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationVethPrivateUsers gives a container in its own user
// namespace (-U) a veth: host0 appears inside, ve-NAME outside.
func TestIntegrationVethPrivateUsers(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	h := handle(t, ns)
	img := testbed.BusyboxImage(t)
	// The UID range record goes below a temp root, not the host's; the
	// veth's MAC addresses come from the root's machine ID.
	root := testbed.Paths(t).Root
	id, err := os.ReadFile("/etc/machine-id")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/machine-id"), id, 0o444); err != nil {
		t.Fatal(err)
	}
	env := append(spawnerEnv(nil), "BERTH_ROOT="+root)
	r := start(t, ns, env, testbed.Binary(t, "berth-nspawn"),
		spawnerArgs(img, "usersveth", "-U", "-n", "/bin/sh", "-c", linksScript)...)
	got := r.until(t, "ready")
	if len(got) != 2 || got[0] != "host0" || got[1] != "lo" {
		t.Errorf("container links %q, want host0 and lo", got)
	}
	if _, err := h.LinkByName("ve-usersveth"); err != nil {
		t.Errorf("no ve-usersveth: %v", err)
	}
	if code := r.stop(t); code != 0 {
		t.Errorf("exit %d: %s", code, r.errb.String())
	}
}
