package netwatch

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/addrpool"
	"github.com/berth-dev/berth/internal/rtnl"
)

// addr is an address on link index of the prefix s.
func addr(index int, s string) rtnl.Addr {
	return rtnl.Addr{Index: index, Prefix: addrpool.ToRTNL(netip.MustParsePrefix(s))}
}

// TestExisting checks which of a namespace's addresses count as a link's
// own IPv4 subnet and IPv6 /64: only those on the link itself.
func TestExisting(t *testing.T) {
	const link = 7
	ula := netip.MustParsePrefix("fd00:1:2::/48")
	tests := []struct {
		name  string
		addrs []rtnl.Addr
		want  string // the /28, or ""
		want6 string // the /64, or ""
	}{
		{"none", nil, "", ""},
		{"own", []rtnl.Addr{addr(7, "10.0.0.1/28"), addr(7, "fd00:1:2:3::1/64")}, "10.0.0.0/28", "fd00:1:2:3::/64"},
		{"another link's", []rtnl.Addr{addr(8, "10.0.0.1/28"), addr(8, "fd00:1:2:3::1/64")}, "", ""},
		{"not the first address", []rtnl.Addr{addr(7, "10.0.0.2/28"), addr(7, "fd00:1:2:3::2/64")}, "", ""},
		{"wrong size", []rtnl.Addr{addr(7, "10.0.0.1/24"), addr(7, "fd00:1:2:3::1/80")}, "", ""},
		{"public, outside the ULA", []rtnl.Addr{addr(7, "8.8.8.1/28"), addr(7, "fd00:9::1/64")}, "", ""},
		{"among others", []rtnl.Addr{addr(1, "127.0.0.1/8"), addr(8, "192.168.0.1/28"), addr(7, "fe80::1/64"), addr(7, "192.168.5.1/28"), addr(7, "fd00:1:2:4::1/64")}, "192.168.5.0/28", "fd00:1:2:4::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got, got6 string
			if p, ok := existing(tt.addrs, link, addrpool.VethBits); ok {
				got = p.String()
			}
			if p := existing6(tt.addrs, link, ula); p.IsValid() {
				got6 = p.String()
			}
			if diff := cmp.Diff([]string{tt.want, tt.want6}, []string{got, got6}); diff != "" {
				t.Errorf("existing, existing6 (-want +got):\n%s", diff)
			}
		})
	}
}
