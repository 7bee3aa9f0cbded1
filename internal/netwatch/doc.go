// Package netwatch configures the host side of container links itself,
// with no network manager: it watches netlink for ve-* veths and vz-*
// bridges appearing in a network namespace, gives each a free private
// subnet (/28 for a veth, /24 for a zone bridge, see addrpool) with the
// host side on the first address, serves DHCPv4 on it (dhcpserver, leases
// persisted per link in the state directory), masquerades it (nat), and
// undoes all of that when the link goes. IPv6: each link also gets a /64
// of a random ULA /48 remembered in the state directory, with the host on
// ::1, advertised by router advertisements (radv) so containers configure
// an address by SLAAC and route through the host, and masqueraded; if that
// fails the link keeps the kernel's link-local addresses only.
//
// A link that already carries a fitting address when the Watcher starts
// (a daemon restart) keeps it, and its leases are reloaded, so containers
// keep their addresses. A link that gets a new subnet prefers the one it
// had before, remembered in the state directory.
//
// The Watcher needs CAP_NET_ADMIN, CAP_NET_RAW and CAP_NET_BIND_SERVICE in
// the namespace, and CAP_SYS_ADMIN to work in a namespace other than its
// own.
package netwatch
