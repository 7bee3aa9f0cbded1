// Package dhcpserver is berth's DHCPv4 server for one container link.
//
// A Server hands out the addresses of the link's prefix (the host side's
// own address excluded) with router and DNS options, a 3600 s lease (client
// requests clamped to 12 h) and the client's host name echoed. DISCOVER
// reserves nothing: the offered address is the client's previous one or the
// first free one probing forward from a hash of its client identifier.
// REQUEST for another client's address gets a NAK; RELEASE and DECLINE are
// honoured only for the client's own address. When the pool is full the
// server stays silent and says so in its log.
//
// Every packet is checked on the raw bytes before it is decoded (length,
// BOOTREQUEST, Ethernet hardware type and length, magic cookie, every
// option's bounds, an END option and nothing but padding after it, no
// option overload, sane client identifier and host name lengths); bad
// packets are dropped and counted, and a panic while handling one packet
// is recovered and counted. Clients are rate limited in a table keyed by a
// keyed hash of the hardware address, and recent offers are remembered (so
// that clients discovering at the same time are offered different
// addresses) in another; both are sized by the pool when the server starts
// and never grow, so a flood of random MAC addresses grows no state.
// Clients that hold a lease pass the rate limit, so such a flood does not
// stop renewals.
// Packets relayed with a giaddr are dropped unless Config.AcceptLinkRelays
// allows relays on the link itself.
//
// Leases are written to Config.LeaseFile in the background, at most once
// per Config.SaveDelay (1 s by default) and when Serve returns; a lease
// lost to a crash inside that window is granted again when its client
// renews, as long as no other client took the address.
//
// Handle is the pure protocol handler over insomniacslk/dhcp types; Serve
// runs it over any net.PacketConn, so a whole exchange runs in a unit
// test. ListenLink (Linux, needs CAP_NET_BIND_SERVICE and CAP_NET_RAW for
// SO_BINDTODEVICE) opens the socket bound to one link.
package dhcpserver
