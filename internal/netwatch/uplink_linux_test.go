package netwatch

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nat"
	"github.com/berth-dev/berth/internal/testbed"
)

func TestIntegrationContainerReachesUplinkAndForward(t *testing.T) {
	testbed.RequireRoot(t)
	host, ctr, up := testbed.NewNetNS(t), testbed.NewNetNS(t), testbed.NewNetNS(t)
	host.Exec(t, "ip", "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", up.Name)
	host.Exec(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "up0")
	host.Exec(t, "ip", "link", "set", "up0", "up")
	up.Exec(t, "ip", "addr", "add", "198.51.100.2/24", "dev", "eth0")
	up.Exec(t, "ip", "link", "set", "eth0", "up")
	w, _ := startWatcher(t, host, t.TempDir())
	host.Exec(t, "ip", "link", "add", "ve-up", "type", "veth", "peer", "name", "host0", "netns", ctr.Name)
	ctr.Exec(t, "ip", "link", "set", "host0", "up")
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
	var got string
	err := ns.Do(func() error {
		d := net.Dialer{Timeout: 10 * time.Second}
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		got = string(b)
		return err
	})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return got
}
