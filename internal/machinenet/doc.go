// Package machinenet is berthd's container networking seen per machine:
// the addresses a machine leased on its host-side links (from netwatch),
// port forwards to machines that follow each machine's current lease, and
// a diagnosis of a machine's links (netdiag).
//
// A machine's leased addresses are the unexpired leases on the ve-*
// veths it was registered with; a zone bridge (vz-*) is shared by its
// members, so a zone member's addresses are only those read inside it.
//
// Port forwards are kept by machine name, not address: a Service resolves
// each forward to the machine's leased IPv4 address (for a zone member,
// its address inside in the zone's subnet) and to its IPv6 address in its
// links' ULA subnets (configured by SLAAC, read inside the machine), and
// rewrites berth's nftables table (nat) whenever that changes, so a forward survives the machine getting
// another address, being stopped and started, and berthd restarting.
// Forwards added over the bus are persisted atomically in one JSON file
// (a list of Forward) and re-applied at start. The forwards a machine
// asked for with berth-nspawn -p are read from its ports file
// PortsDir/MACHINE (containernet.PortsFile) and apply while the machine is
// registered; of two forwards on one host port the persisted one wins.
//
// A Service needs what netwatch needs: CAP_NET_ADMIN in berthd's network
// namespace.
package machinenet
