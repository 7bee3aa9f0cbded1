// Package addrpool picks free private IPv4 subnets for container links, the
// way networkd does for Address=0.0.0.0/N: from 192.168.0.0/16, then
// 172.16.0.0/12, then 10.0.0.0/8, a random free subnet (up to 1024 tries
// per pool, then a scan) that overlaps no address or route already in the
// network namespace and no subnet already handed out. The host side of a
// link takes the subnet's first address.
//
// The Allocator is pure; InUse (Linux) lists the prefixes of the calling
// thread's network namespace and needs no privileges.
package addrpool
