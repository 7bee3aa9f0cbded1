package netdiag

import (
	"fmt"
	"sort"
)

// Codes of findings.
const (
	NoLink          = "no-link"
	LinkDown        = "link-down"
	NoAddress       = "no-host-address"
	NoLease         = "no-lease"
	ForwardingOff   = "forwarding-off"
	NoMasquerade    = "no-masquerade"
	FirewallDrops   = "firewall-drops-forwarded"
	OtherManager    = "other-network-manager"
	ServerUnhealthy = "dhcp-server-dropping"
)

// Facts are what Gather found about one link.
type Facts struct {
	// Link is the host-side link name.
	Link string
	// Exists, Up: the link is present and administratively up.
	Exists, Up bool
	// Managed: berth configured the link (it has a subnet and a server).
	Managed bool
	// ActiveLeases counts unexpired DHCP leases on the link.
	ActiveLeases int
	// Malformed, RateLimited count dropped DHCP packets on the link.
	Malformed, RateLimited uint64
	// IPv4Forwarding is net.ipv4.conf.<link>.forwarding (and the global
	// switch).
	IPv4Forwarding bool
	// Masqueraded: berth's table masquerades the link's subnet.
	Masqueraded bool
	// DroppingChains name nftables chains outside berth's table that hook
	// forward with a drop policy ("family table chain").
	DroppingChains []string
	// Managers name other network managers that claim the link.
	Managers []string
}

// Finding is one reason for missing connectivity.
type Finding struct {
	// Code is a stable identifier (the constants above).
	Code string
	// Message explains it to a person, with a remedy.
	Message string
}

// Diagnose returns the findings for f, most fundamental first; none means
// berth sees nothing wrong on the host side.
func Diagnose(f Facts) []Finding {
	if !f.Exists {
		return []Finding{{NoLink, fmt.Sprintf("link %s does not exist: the container has no veth (start it with -n)", f.Link)}}
	}
	var out []Finding
	add := func(code, format string, args ...any) {
		out = append(out, Finding{code, fmt.Sprintf(format, args...)})
	}
	for _, m := range f.Managers {
		add(OtherManager, "%s also manages %s; tell it to leave ve-*/vz-* links alone (for systemd-networkd, mask 80-container-ve.network)", m, f.Link)
	}
	if !f.Up {
		add(LinkDown, "link %s is down", f.Link)
	}
	if !f.Managed {
		add(NoAddress, "berth has not configured %s: no host address and no DHCP server (see berthd's log)", f.Link)
	} else if f.ActiveLeases == 0 {
		add(NoLease, "no DHCP lease on %s: the container's DHCP client has not asked, or got no answer", f.Link)
	}
	if f.Malformed+f.RateLimited > 0 && f.ActiveLeases == 0 {
		add(ServerUnhealthy, "the DHCP server on %s dropped %d malformed and %d rate-limited packets", f.Link, f.Malformed, f.RateLimited)
	}
	if !f.IPv4Forwarding {
		add(ForwardingOff, "IPv4 forwarding is off for %s (net.ipv4.ip_forward)", f.Link)
	}
	if f.Managed && !f.Masqueraded {
		add(NoMasquerade, "berth's nftables table does not masquerade %s's subnet", f.Link)
	}
	chains := append([]string(nil), f.DroppingChains...)
	sort.Strings(chains)
	for _, c := range chains {
		add(FirewallDrops, "nftables chain %s drops forwarded traffic by default; allow %s in it", c, f.Link)
	}
	return out
}
