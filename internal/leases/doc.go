// Package leases holds the DHCPv4 lease table of one link and persists it.
//
// A Table maps client identifiers to addresses of one pool (a prefix minus
// its network, broadcast and server addresses). It reserves nothing on its
// own: callers pick a free address with Pick and make it theirs with Bind.
// Save and Load keep the table in a JSON file written atomically (temporary
// file, fsync, rename, fsync of the directory); Load skips bad files and bad
// entries with a warning instead of failing, so a damaged lease file never
// keeps a server from starting.
//
// Nothing here needs privileges beyond write access to the lease directory.
package leases
