package netwatch

import (
	"testing"

	"github.com/berth-dev/berth/internal/nat"
	"github.com/berth-dev/berth/internal/testbed"
)

func TestIntegrationContainerReachesUplinkAndForward(t *testing.T) {
	testbed.RequireRoot(t)
	host, ctr := testbed.NewNetNS(t), testbed.NewNetNS(t)
	up := testbed.NewUplink(t, host).NS
	w, _ := startWatcher(t, host, t.TempDir())
	host.Veth(t, "ve-up", ctr, "host0")
	addr := udhcpc(t, ctr, "host0")

	echoPeer(t, up, "198.51.100.2:7000")
	if got := dial(t, ctr, "198.51.100.2:7000"); got != "198.51.100.1" {
		t.Fatalf("uplink server saw %q, want the host's uplink address", got)
	}
	echoPeer(t, ctr, "0.0.0.0:80")
	if err := w.NAT().AddForward(nat.Forward{Proto: "tcp", HostPort: 8080, Addr: addr, Port: 80}); err != nil {
		t.Fatal(err)
	}
	if got := dial(t, up, "198.51.100.1:8080"); got != "198.51.100.2" {
		t.Fatalf("container saw %q for a forward from the uplink", got)
	}
	if got := dial(t, host, "127.0.0.1:8080"); got == "" {
		t.Fatal("no answer for a forward from the host's loopback")
	}
	host.Exec(t, "ip", "link", "del", "ve-up")
	eventually(t, "the forward to go with the link", func() bool { return len(w.NAT().Forwards()) == 0 })
}

// echoPeer answers every connection to addr in ns with the peer's address.
func echoPeer(t *testing.T, ns *testbed.NetNS, addr string) { ns.Serve(t, addr, testbed.EchoPeer) }

// dial connects from ns to addr and returns what the peer said.
func dial(t *testing.T, ns *testbed.NetNS, addr string) string {
	t.Helper()
	got, err := ns.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
