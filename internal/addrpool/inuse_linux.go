package addrpool

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// InUse lists the IPv4 prefixes of every address and every route (all
// tables) in the network namespace of h (the calling thread's if h is nil).
func InUse(h *netlink.Handle) ([]netip.Prefix, error) {
	return inUse(h, nil, false)
}

// InUseWith is InUse for a caller that has listed the addresses of h's
// namespace already (of any family: the IPv4 ones count): it lists only
// the routes, one netlink dump instead of two.
func InUseWith(h *netlink.Handle, addrs []netlink.Addr) ([]netip.Prefix, error) {
	return inUse(h, addrs, true)
}

// inUse lists the prefixes in use, given the addresses when listed.
func inUse(h *netlink.Handle, addrs []netlink.Addr, listed bool) ([]netip.Prefix, error) {
	if h == nil {
		var err error
		if h, err = netlink.NewHandle(); err != nil {
			return nil, fmt.Errorf("list prefixes in use: %w", err)
		}
		defer h.Close()
	}
	if !listed {
		var err error
		if addrs, err = h.AddrList(nil, netlink.FAMILY_V4); err != nil {
			return nil, fmt.Errorf("list addresses: %w", err)
		}
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if p, ok := toPrefix(a.IPNet); ok {
			out = append(out, p)
		}
	}
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: 0}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if p, ok := toPrefix(r.Dst); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func toPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), bits), a.Unmap().Is4()
}
