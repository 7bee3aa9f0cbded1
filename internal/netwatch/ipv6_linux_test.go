package netwatch

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/nat"
	"github.com/berth-dev/berth/internal/testbed"
)

// slaacAddr waits for the container's global IPv6 address in p.
func slaacAddr(t *testing.T, ctr *testbed.NetNS, p netip.Prefix) netip.Addr {
	t.Helper()
	var got netip.Addr
	eventually(t, "a SLAAC address and a default route", func() bool {
		routes := ctr.Exec(t, "ip", "-6", "route", "show", "default")
		for _, line := range strings.Split(ctr.Exec(t, "ip", "-6", "-o", "addr", "show", "dev", "host0", "scope", "global"), "\n") {
			if strings.Contains(line, "tentative") {
				continue // not usable before duplicate address detection ends
			}
			for _, f := range strings.Fields(line) {
				if a, err := netip.ParsePrefix(f); err == nil && p.Contains(a.Addr()) && strings.Contains(routes, "via fe80::") {
					got = a.Addr()
					return true
				}
			}
		}
		return false
	})
	return got
}

func TestIntegrationIPv6ThroughUplink(t *testing.T) {
	testbed.RequireRoot(t)
	host, ctr := testbed.NewNetNS(t), testbed.NewNetNS(t)
	up := testbed.NewUplink(t, host).NS
	w, _ := startWatcher(t, host, t.TempDir())
	host.Veth(t, "ve-six", ctr, "host0")
	eventually(t, "the link to be configured", func() bool { _, ok := linkNamed(w, "ve-six"); return ok })
	l, _ := linkNamed(w, "ve-six")
	if l.Subnet6.Bits() != 64 || !l.Subnet6.Contains(l.HostAddr6) {
		t.Fatalf("link %+v has no IPv6 /64", l)
	}
	addr := slaacAddr(t, ctr, l.Subnet6)
	ctr.Exec(t, "busybox", "ping", "-6", "-c", "1", "-W", "5", l.HostAddr6.String())

	echoPeer(t, up, "[2001:db8::2]:7000")
	if got := dial(t, ctr, "[2001:db8::2]:7000"); got != "2001:db8::1" {
		t.Fatalf("uplink server saw %q, want the host's uplink address", got)
	}
	echoPeer(t, ctr, "[::]:80")
	if err := w.NAT().AddForward(nat.Forward{Proto: "tcp", HostPort: 8080, Addr: addr, Port: 80}); err != nil {
		t.Fatal(err)
	}
	if got := dial(t, up, "[2001:db8::1]:8080"); got != "2001:db8::2" {
		t.Fatalf("container saw %q for an IPv6 forward from the uplink", got)
	}
}
