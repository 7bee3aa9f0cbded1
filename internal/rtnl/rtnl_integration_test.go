package rtnl

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationAddrsRoutes drives the address and route requests
// against the kernel in a throwaway network namespace and checks them
// with ip(8): an IPv4 address with its broadcast, an IPv6 address
// replaced with new flags, the listings of both families, the routes of
// every table, a link by index brought up, and the addresses' removal.
func TestIntegrationAddrsRoutes(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	ns.Exec(t, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	v4, v6 := prefix("10.7.0.1/28"), prefix("fd00:7::1/64")
	var index int
	err := ns.Do(func() error {
		h, err := Open()
		if err != nil {
			return err
		}
		defer h.Close()
		l, err := h.LinkByName("d0")
		if err != nil {
			return err
		}
		index = l.Index
		if err := h.SetUp(index); err != nil {
			return err
		}
		if got, err := h.LinkByIndex(index); err != nil || got.Name != "d0" || got.Kind != "veth" || got.Flags&unix.IFF_UP == 0 {
			t.Errorf("LinkByIndex(%d) = %+v, %v; want d0, a veth, up", index, got, err)
		}
		if _, err := h.LinkByIndex(9999); !errors.Is(err, ErrLinkNotFound) {
			t.Errorf("LinkByIndex(9999) = %v, want ErrLinkNotFound", err)
		}
		if err := h.AddAddr(index, v4, 0); err != nil {
			return err
		}
		if err := h.AddAddr(index, v4, 0); !errors.Is(err, unix.EEXIST) {
			t.Errorf("AddAddr twice = %v, want EEXIST", err)
		}
		if err := h.ReplaceAddr(index, v6, 0); err != nil {
			return err
		}
		if err := h.ReplaceAddr(index, v6, unix.IFA_F_NODAD); err != nil {
			return err
		}
		if err := h.AddAddr(index, Prefix{IP: []byte{10}, Bits: 8}, 0); err == nil {
			t.Error("AddAddr of a malformed address succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out := ns.Exec(t, "ip", "-4", "addr", "show", "d0"); !strings.Contains(out, "inet 10.7.0.1/28 brd 10.7.0.15") {
		t.Errorf("ip addr lacks 10.7.0.1/28 with its broadcast:\n%s", out)
	}
	if out := ns.Exec(t, "ip", "-6", "addr", "show", "d0"); !strings.Contains(out, "fd00:7::1/64") || !strings.Contains(out, "nodad") {
		t.Errorf("ip addr lacks fd00:7::1/64 nodad:\n%s", out)
	}
	ns.Exec(t, "ip", "route", "add", "10.8.0.0/24", "dev", "d0", "table", "100")
	err = ns.Do(func() error {
		h, err := Open()
		if err != nil {
			return err
		}
		defer h.Close()
		all, err := h.Addrs(unix.AF_UNSPEC)
		if err != nil {
			return err
		}
		four, err := h.Addrs(unix.AF_INET)
		if err != nil {
			return err
		}
		if !hasAddr(all, index, "10.7.0.1/28", 0) || !hasAddr(all, index, "fd00:7::1/64", unix.IFA_F_NODAD) {
			t.Errorf("Addrs(AF_UNSPEC) = %v, want both addresses of d0", all)
		}
		if !hasAddr(four, index, "10.7.0.1/28", 0) || hasAddr(four, index, "fd00:7::1/64", unix.IFA_F_NODAD) {
			t.Errorf("Addrs(AF_INET) = %v, want the IPv4 address alone", four)
		}
		routes, err := h.RouteDsts4()
		if err != nil {
			return err
		}
		var dsts []string
		for _, r := range routes {
			a, _ := netip.AddrFromSlice(r.IP)
			dsts = append(dsts, netip.PrefixFrom(a, r.Bits).String())
		}
		if !slices.Contains(dsts, "10.7.0.0/28") || !slices.Contains(dsts, "10.8.0.0/24") {
			t.Errorf("RouteDsts4 = %v, want the link's subnet and table 100's route", dsts)
		}
		for _, p := range []Prefix{v4, v6} {
			if err := h.DelAddr(index, p); err != nil {
				return err
			}
		}
		if left, err := h.Addrs(unix.AF_INET); err != nil || hasAddr(left, index, "10.7.0.1/28", 0) {
			t.Errorf("after DelAddr: %v, %v", left, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hasAddr reports whether addrs has the address s on link index with at
// least the flags.
func hasAddr(addrs []Addr, index int, s string, flags uint32) bool {
	want := netip.MustParsePrefix(s)
	return slices.ContainsFunc(addrs, func(a Addr) bool {
		ip, _ := netip.AddrFromSlice(a.IP)
		return a.Index == index && netip.PrefixFrom(ip, a.Bits) == want && a.Flags&flags == flags
	})
}
