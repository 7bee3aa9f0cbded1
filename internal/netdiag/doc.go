// Package netdiag says why a container on a berth link has no
// connectivity: no host address or lease on the link, the link down,
// IPv4 forwarding off, no masquerading, a firewall chain that drops
// forwarded traffic, or another network manager owning the link.
//
// Diagnose is a pure function over Facts; Gather (Linux) collects the
// facts of one link from the kernel (netlink, /proc/sys, nftables) and
// from the run-time state other network managers leave under /run. It
// needs CAP_NET_ADMIN to read nftables, and CAP_SYS_ADMIN for a network
// namespace other than the caller's.
package netdiag
