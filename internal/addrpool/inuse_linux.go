package addrpool

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/rtnl"
)

// InUse lists the IPv4 prefixes of every address and every route (all
// tables) in the network namespace of h (the calling thread's if h is nil).
func InUse(h *rtnl.Conn) ([]netip.Prefix, error) {
	return inUse(h, nil, false)
}

// InUseWith is InUse for a caller that has listed the addresses of h's
// namespace already (of any family: the IPv4 ones count): it lists only
// the routes, one netlink dump instead of two.
func InUseWith(h *rtnl.Conn, addrs []rtnl.Addr) ([]netip.Prefix, error) {
	return inUse(h, addrs, true)
}

// inUse lists the prefixes in use, given the addresses when listed.
func inUse(h *rtnl.Conn, addrs []rtnl.Addr, listed bool) ([]netip.Prefix, error) {
	if h == nil {
		var err error
		if h, err = rtnl.Open(); err != nil {
			return nil, fmt.Errorf("list prefixes in use: %w", err)
		}
		defer h.Close()
	}
	if !listed {
		var err error
		if addrs, err = h.Addrs(unix.AF_INET); err != nil {
			return nil, fmt.Errorf("list addresses: %w", err)
		}
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if a.Is4() {
			out = append(out, FromRTNL(a.Prefix))
		}
	}
	routes, err := h.RouteDsts4()
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		out = append(out, FromRTNL(r))
	}
	return out, nil
}

// FromRTNL is p as a netip.Prefix (not masked).
func FromRTNL(p rtnl.Prefix) netip.Prefix {
	a, _ := netip.AddrFromSlice(p.IP)
	return netip.PrefixFrom(a, p.Bits)
}

// ToRTNL is p as an rtnl.Prefix.
func ToRTNL(p netip.Prefix) rtnl.Prefix { return rtnl.Prefix{IP: p.Addr().AsSlice(), Bits: p.Bits()} }
