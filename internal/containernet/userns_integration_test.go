package containernet

import (
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
	r := start(t, ns, spawnerEnv(nil), testbed.Binary(t, "berth-nspawn"),
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
