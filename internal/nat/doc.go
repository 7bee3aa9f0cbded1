// Package nat keeps berth's own nftables table (inet "berth") in one
// network namespace: masquerading of container link subnets out of any
// non-container interface, and port forwards (DNAT, IPv4 and IPv6) to
// container addresses for traffic addressed to the host, arriving from
// outside or made on the host itself, IPv4 loopback included.
//
// Every change is one atomic nftables transaction that replaces all the
// rules, so the table never holds a half-applied state, and nothing
// outside it is touched: rules of other tables coexist. The first change
// replaces any table of that name; later ones keep the table and its
// chains (registering NAT hooks anew costs more than the rest of a change),
// also when the last link and forward go. Close deletes the table.
//
// Forwarding: AddLink sets net.ipv4.ip_forward and the link's
// route_localnet (so DNATed loopback connections may leave through it; a
// guard rule drops packets from the link to 127.0.0.0/8); an IPv6 subnet
// or port forward sets net.ipv6.conf.all.forwarding, after moving links
// with accept_ra=1 to accept_ra=2 so the host keeps its own SLAAC
// configuration. Everything needs CAP_NET_ADMIN in the namespace.
package nat
