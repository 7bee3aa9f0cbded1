package nat

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/testbed"
)

// wantTable is berth's table as nft(8) prints it for the rules of
// TestIntegrationTableAsNftListsIt.
const wantTable = `table inet berth {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		meta nfproto ipv4 tcp dport 8080 fib daddr type local dnat ip to 10.60.0.2:80
		meta nfproto ipv6 udp dport 5353 fib daddr type local dnat ip6 to [fd60::2]:53
	}

	chain output {
		type nat hook output priority -100; policy accept;
		meta nfproto ipv4 tcp dport 8080 fib daddr type local dnat ip to 10.60.0.2:80
		meta nfproto ipv6 udp dport 5353 fib daddr type local dnat ip6 to [fd60::2]:53
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.60.0.0/28 ip daddr != 10.60.0.0/28 oifname != "ve-*" oifname != "vz-*" oifname != "vb-*" masquerade
		ip saddr 127.0.0.0/8 ip daddr 10.60.0.0/28 masquerade
		ip6 saddr fd60::/64 ip6 daddr != fd60::/64 oifname != "ve-*" oifname != "vz-*" oifname != "vb-*" masquerade
	}

	chain guard {
		type filter hook prerouting priority raw; policy accept;
		iifname "ve-nat" ip daddr 127.0.0.0/8 drop
	}
}
`

func TestIntegrationTableAsNftListsIt(t *testing.T) {
	testbed.RequireRoot(t)
	tp := newTopology(t)
	m := New(WithNetNS(tp.host.Path))
	t.Cleanup(func() { _ = m.Close() })
	if err := m.AddLink("ve-nat", netip.MustParsePrefix("10.60.0.0/28"), netip.MustParsePrefix("fd60::/64")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []Forward{
		{"tcp", 8080, netip.MustParseAddr("10.60.0.2"), 80},
		{"udp", 5353, netip.MustParseAddr("fd60::2"), 53},
	} {
		if err := m.AddForward(f); err != nil {
			t.Fatal(err)
		}
	}
	got := tp.host.Exec(t, "nft", "list", "table", "inet", TableName)
	if diff := cmp.Diff(wantTable, got); diff != "" {
		t.Fatalf("nft list table -want +got:\n%s", diff)
	}
}
