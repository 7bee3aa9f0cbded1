package testbed

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// TestIntegrationUplinkAndVeth dials a server on a fake uplink from its
// host namespace over IPv4 and IPv6, and checks a veth's index and its
// peer side.
func TestIntegrationUplinkAndVeth(t *testing.T) {
	RequireRoot(t)
	host, ctr := NewNetNS(t), NewNetNS(t)
	up := NewUplink(t, host)
	up.NS.Serve(t, "[::]:7000", EchoPeer)
	for _, tt := range []struct{ dst, want netip.Addr }{{up.Peer4, up.Host4}, {up.Peer6, up.Host6}} {
		got, err := host.Dial(netip.AddrPortFrom(tt.dst, 7000).String())
		if err != nil || strings.TrimPrefix(got, "::ffff:") != tt.want.String() {
			t.Errorf("dial %s: %q, %v; want the server to see %s", tt.dst, got, err, tt.want)
		}
	}
	index := host.Veth(t, "ve-tb", ctr, "host0")
	want := strconv.Itoa(index) + ": ve-tb@"
	if out := host.Exec(t, "ip", "-o", "link", "show", "ve-tb"); !strings.HasPrefix(out, want) {
		t.Errorf("ve-tb: %s; want it to start with %q", out, want)
	}
	if out := ctr.Exec(t, "ip", "-o", "link", "show", "host0"); !strings.Contains(out, ",UP") {
		t.Errorf("host0 not up:\n%s", out)
	}
	if _, err := host.Dial("127.0.0.1:1"); err == nil {
		t.Error("dial to a closed port succeeded")
	}
}
