// Package radv sends IPv6 router advertisements on a container link, so
// that the container configures an address in the link's /64 by SLAAC and
// a default route through the host, as networkd's IPv6SendRA= does.
//
// Message builds an advertisement and IsSolicit checks a received
// solicitation (pure functions, fuzzed). Listen (Linux) opens a raw ICMPv6
// socket bound to one link, which needs CAP_NET_RAW; Serve advertises on
// it: three times at start, then every Config.Interval, and soon after
// each router solicitation (at most once per second).
package radv
