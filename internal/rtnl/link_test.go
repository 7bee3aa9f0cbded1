package rtnl

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestParseLink(t *testing.T) {
	a := attrs{b: ifinfomsg(7, unix.IFF_UP, 0)}
	a.str(unix.IFLA_IFNAME, "vb-m")
	a.u32(unix.IFLA_MASTER, 3)
	a.u32(unix.IFLA_MTU, 1500)
	a.add(unix.IFLA_ADDRESS, []byte{2, 0, 0, 0, 0, 1})
	a.nest(unix.IFLA_LINKINFO, nil, func(info *attrs) { info.add(unix.IFLA_INFO_KIND, []byte("veth")) })
	got, err := ParseLink(a.b)
	if err != nil {
		t.Fatal(err)
	}
	want := Link{Index: 7, Master: 3, MTU: 1500, Flags: unix.IFF_UP, Name: "vb-m", Kind: "veth", HardwareAddr: []byte{2, 0, 0, 0, 0, 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseLink (-want +got):\n%s", diff)
	}
	a.b[len(a.b)-1] = 'x' // the link keeps nothing of the buffer
	if got.Kind != "veth" || got.HardwareAddr[5] != 1 {
		t.Errorf("ParseLink's result changed with its buffer: %+v", got)
	}
	for _, bad := range [][]byte{nil, a.b[:10], append(ifinfomsg(1, 0, 0), 0xff, 0x00, 0x03, 0x00)} {
		if _, err := ParseLink(bad); err == nil {
			t.Errorf("ParseLink(%x) succeeded, want an error", bad)
		}
	}
}

// prefix is the Prefix of s.
func prefix(s string) Prefix {
	p := netip.MustParsePrefix(s)
	return Prefix{IP: p.Addr().AsSlice(), Bits: p.Bits()}
}

func TestParseAddr(t *testing.T) {
	p4 := prefix("10.0.0.1/28")
	peer := attrs{b: ifaddrmsg(unix.AF_INET, 28, 0, 4)}
	peer.add(unix.IFA_ADDRESS, []byte{10, 0, 0, 9}) // a point-to-point peer
	peer.add(unix.IFA_LOCAL, p4.IP)
	p6 := prefix("fd00::1/64")
	for _, tt := range []struct {
		name string
		b    []byte
		want Addr
		ok   bool
	}{
		{"IPv4", addrAttrs(3, p4, 0).b, Addr{Index: 3, Prefix: p4}, true},
		{"IPv4 local over peer", peer.b, Addr{Index: 4, Prefix: p4}, true},
		{"IPv6 with wide flags", addrAttrs(5, p6, unix.IFA_F_NODAD|unix.IFA_F_NOPREFIXROUTE).b,
			Addr{Index: 5, Prefix: p6, Flags: unix.IFA_F_NODAD | unix.IFA_F_NOPREFIXROUTE}, true},
		{"other family", ifaddrmsg(unix.AF_PACKET, 0, 0, 1), Addr{}, false},
		{"no address", ifaddrmsg(unix.AF_INET, 24, 0, 1), Addr{}, false},
		{"IPv4 prefix too long", addrAttrs(3, Prefix{IP: p4.IP, Bits: 33}, 0).b, Addr{}, false},
	} {
		got, ok, err := parseAddr(tt.b)
		if err != nil || ok != tt.ok {
			t.Errorf("%s: ok %v, err %v; want ok %v", tt.name, ok, err, tt.ok)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	if _, _, err := parseAddr([]byte{2, 24}); err == nil {
		t.Error("parseAddr of a short message succeeded")
	}
}

func TestBroadcast(t *testing.T) {
	for in, want := range map[string]string{"10.1.2.17/28": "10.1.2.31", "192.168.0.1/24": "192.168.0.255", "10.0.0.0/8": "10.255.255.255"} {
		if got, _ := netip.AddrFromSlice(broadcast(prefix(in))); got.String() != want {
			t.Errorf("broadcast(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestPrefixValid(t *testing.T) {
	for _, tt := range []struct {
		p    Prefix
		want bool
	}{
		{prefix("10.0.0.1/28"), true}, {prefix("fd00::1/64"), true}, {Prefix{IP: []byte{10, 0, 0, 1}, Bits: 33}, false},
		{Prefix{IP: []byte{10, 0, 0}, Bits: 8}, false}, {Prefix{IP: make([]byte, 16), Bits: -1}, false}, {Prefix{}, false},
	} {
		if got := tt.p.valid(); got != tt.want {
			t.Errorf("%+v valid = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestParseRouteDst4(t *testing.T) {
	route := func(family, bits byte, flags uint32, dst []byte) []byte {
		b := make([]byte, unix.SizeofRtMsg)
		b[0], b[1] = family, bits
		b[8], b[9] = byte(flags), byte(flags>>8)
		a := attrs{b: b}
		if dst != nil {
			a.add(unix.RTA_DST, dst)
		}
		return a.b
	}
	for _, tt := range []struct {
		name string
		b    []byte
		want string // "" for none
	}{
		{"subnet", route(unix.AF_INET, 24, 0, []byte{10, 1, 2, 0}), "10.1.2.0/24"},
		{"default", route(unix.AF_INET, 0, 0, nil), ""},
		{"cloned", route(unix.AF_INET, 32, unix.RTM_F_CLONED, []byte{10, 1, 2, 3}), ""},
		{"IPv6", route(unix.AF_INET6, 64, 0, make([]byte, 16)), ""},
		{"bad length", route(unix.AF_INET, 40, 0, []byte{10, 1, 2, 0}), ""},
	} {
		p, ok, err := parseRouteDst4(tt.b)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		got := ""
		if ok {
			a, _ := netip.AddrFromSlice(p.IP)
			got = netip.PrefixFrom(a, p.Bits).String()
		}
		if got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func FuzzParseLink(f *testing.F) {
	a := attrs{b: ifinfomsg(7, 0, 0)}
	a.str(unix.IFLA_IFNAME, "vb-m")
	a.nest(unix.IFLA_LINKINFO, nil, func(info *attrs) { info.add(unix.IFLA_INFO_KIND, []byte("bridge")) })
	f.Add(a.b)
	f.Add(addrAttrs(3, prefix("10.0.0.1/28"), 0).b)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseLink(b)
		_, _, _ = parseAddr(b)
		_, _, _ = parseRouteDst4(b)
	})
}
