// Package containernet builds the host side of a container's network as
// systemd-nspawn (v252) does, for berth-nspawn: it runs in the spawner,
// after the container's network namespace exists and before the payload
// starts.
//
//   - --network-veth: a veth pair, ve-NAME on the host and host0 in the
//     container. A host name of 16 or more characters keeps its first 11
//     and gets 4 URL-safe base64 characters of a SipHash-2-4 of the full
//     name (nspawn's key), the full name being added as an alternative
//     name (HostIfName). MAC addresses are nspawn's: SipHash-2-4 of the
//     host's machine ID and the machine name, one key per side (MAC).
//   - --network-bridge=BR: the host side is vb-NAME, enslaved to BR and
//     set up; BR's index is the one registered.
//   - --network-zone=Z: as a bridge, with the bridge vz-Z created (and set
//     up) on demand and deleted when its last member goes, both under the
//     lock RUN/network-zone.lock (RUN is paths.Paths.Run).
//   - --network-veth-extra=H:C: more veth pairs, MACs from nspawn's extra
//     keys and the pair's position.
//   - --network-interface=IF: IF is moved into the container.
//
// Setup undoes everything it did when a step fails; Network.Close deletes
// the host-side links, removes an empty zone and the ports file. The host
// side is otherwise left unconfigured: berthd's network manager (package
// netwatch) sees the ve-* and vz-* links appear and gives them addresses,
// DHCP and NAT. Registration with machine1 carries Network.IfIndices.
//
// # Port forwards
//
// berth-nspawn cannot know the address the container will lease, so it
// records its -p/--port forwards for berthd in a ports file:
//
//	RUN/ports/MACHINE   (/run/berth/ports/MACHINE on a real host)
//
// written atomically (a temporary ".#MACHINE.*" file in the same
// directory, renamed into place; readers skip names starting with ".")
// after the links exist and before the payload starts, mode 0644, and
// removed when the container ends. It holds one JSON object (PortsFile):
//
//	{"machine":"web","leader":4242,"ifindex":17,
//	 "ports":[{"protocol":"tcp","host":8080,"container":80}]}
//
// machine is the machine name; leader the host PID of its PID 1 (a file
// whose leader is gone is stale); ifindex the host-side link in the
// spawner's network namespace the container is reached through (the
// ve-* veth, or the bridge in bridge and zone mode; 0 with no veth);
// ports the forwards, protocol "tcp" or "udp", ports 1-65535. berthd
// should forward each host port to the container's leased IPv4 address
// (and its IPv6 address) on that link, and drop the forwards when the file
// or the link goes. ReadPorts (ParsePorts for bytes) reads and checks a
// file.
//
// The link operations speak route netlink directly (package rtnl), so
// berth-nspawn links neither a netlink library nor the net package.
//
// Everything here needs CAP_NET_ADMIN in the spawner's and the
// container's network namespaces.
package containernet
