// Package nat keeps berth's own nftables table (inet "berth") in one
// network namespace: masquerading of container link subnets out of any
// non-container interface, and port forwards (DNAT, IPv4 and IPv6) to
// container addresses for traffic addressed to the host, arriving from
// outside or made on the host itself, IPv4 loopback included.
//
// The whole table is rewritten in one atomic nftables transaction on every
// change, so it never holds a half-applied state, and nothing outside it is
// touched: rules of other tables coexist. Close deletes the table.
//
// Forwarding: AddLink sets net.ipv4.ip_forward and the link's
// route_localnet (so DNATed loopback connections may leave through it);
// an IPv6 port forward sets net.ipv6.conf.all.forwarding. Everything needs
// CAP_NET_ADMIN in the namespace.
package nat
