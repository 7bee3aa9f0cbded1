// Package nat keeps berth's own nftables table (inet "berth") in one
// network namespace: masquerading of container link subnets out of any
// non-container interface, and port forwards (DNAT, IPv4 and IPv6) to
// container addresses for traffic addressed to the host, arriving from
// outside or made on the host itself, IPv4 loopback included.
//
// The whole table is rewritten in one atomic nftables transaction on every
// change, so it never holds a half-applied state, and nothing outside it is
// touched: rules of other tables coexist. The table and its chains stay
// when the last link and forward go (registering NAT hooks anew costs more
// than the rest of a change); Close deletes the table.
//
// Forwarding: AddLink sets net.ipv4.ip_forward and the link's
// route_localnet (so DNATed loopback connections may leave through it; a
// guard rule drops packets from the link to 127.0.0.0/8); an IPv6 subnet
// or port forward sets net.ipv6.conf.all.forwarding, after moving links
// with accept_ra=1 to accept_ra=2 so the host keeps its own SLAAC
// configuration. Everything needs CAP_NET_ADMIN in the namespace.
package nat
