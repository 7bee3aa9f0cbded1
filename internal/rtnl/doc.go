// Package rtnl is berth's own route netlink client: the few link,
// address and route requests berth-nspawn and berthd make (create a veth
// or bridge, look a link up, enslave it, bring it up, move it, delete it;
// list, add and delete addresses; list the IPv4 routes), and the parsing
// of link messages, instead of a general netlink library. berth-nspawn
// starts without one (and without the net package), and berthd keeps
// none of its code resident.
//
// A Conn is one socket in one network namespace; requests wait for the
// kernel's acknowledgement. Everything that changes links or addresses
// needs CAP_NET_ADMIN in the namespace.
package rtnl
