package netwatch

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/internal/addrpool"
)

// addr is a netlink address on link index of the prefix s.
func addr(index int, s string) netlink.Addr {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	n.IP = ip
	return netlink.Addr{IPNet: n, LinkIndex: index}
}

// TestExisting checks which of a namespace's addresses count as a link's
// own IPv4 subnet and IPv6 /64: only those on the link itself.
func TestExisting(t *testing.T) {
	link := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ve-x", Index: 7}}
	ula := netip.MustParsePrefix("fd00:1:2::/48")
	tests := []struct {
		name  string
		addrs []netlink.Addr
		want  string // the /28, or ""
		want6 string // the /64, or ""
	}{
		{"none", nil, "", ""},
		{"own", []netlink.Addr{addr(7, "10.0.0.1/28"), addr(7, "fd00:1:2:3::1/64")}, "10.0.0.0/28", "fd00:1:2:3::/64"},
		{"another link's", []netlink.Addr{addr(8, "10.0.0.1/28"), addr(8, "fd00:1:2:3::1/64")}, "", ""},
		{"not the first address", []netlink.Addr{addr(7, "10.0.0.2/28"), addr(7, "fd00:1:2:3::2/64")}, "", ""},
		{"wrong size", []netlink.Addr{addr(7, "10.0.0.1/24"), addr(7, "fd00:1:2:3::1/80")}, "", ""},
		{"public, outside the ULA", []netlink.Addr{addr(7, "8.8.8.1/28"), addr(7, "fd00:9::1/64")}, "", ""},
		{"among others", []netlink.Addr{addr(1, "127.0.0.1/8"), addr(8, "192.168.0.1/28"), addr(7, "fe80::1/64"), addr(7, "192.168.5.1/28"), addr(7, "fd00:1:2:4::1/64")}, "192.168.5.0/28", "fd00:1:2:4::/64"},
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
