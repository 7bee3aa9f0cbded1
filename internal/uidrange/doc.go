// Package uidrange allocates the host UID/GID ranges that unprivileged
// (user-namespaced) machines map their IDs 0–65535 onto.
//
// A range is 65536 IDs whose base is 64Ki-aligned and lies in
// [MinBase, MaxBase], the same window systemd-nspawn uses. The first
// candidate for a machine is derived from a hash of its name, so a machine
// gets the same range on every start; after that every other base is tried
// in order, so allocation only fails when the window is really full.
//
// A range is taken under two locks, both flock(2) on files below paths.Run:
// a lock around the whole pick, and a per-base lock that the returned Lease
// holds for the container's lifetime. Concurrent starts in any number of
// processes therefore never get overlapping ranges. Bases whose range
// contains a UID of /etc/passwd or a GID of /etc/group (parsed directly, no
// NSS) are skipped. The range in use is recorded per machine below
// paths.State, so a restarted machine gets its range back and the daemon can
// answer GetUIDShift.
//
// The pure parts (candidates, record and account file parsing, range
// arithmetic) need no privileges. Allocator needs write access to the lock
// and state directories, which on a real host means root.
package uidrange
