// Package early is berthctl's early path: the one-call verbs (start NAME...,
// reboot NAME..., poweroff [--force] NAME..., terminate NAME...) run in C
// from a constructor, before the Go runtime starts, so such a command
// costs a static C program's start and exit instead of a Go runtime's: on
// a 2-core VM, 2 ms of CPU instead of 12-13 ms for `berthctl start` of a
// missing image, and 5 ms instead of 13-14 ms from exec to exit
// (BenchmarkCompareClientCall in internal/ctl compares it with the Go
// path and busctl).
//
// The constructor sends the bus's EXTERNAL handshake, Hello and the first
// call in one write, as sd-bus clients do, reads the replies, prints what
// berthctl's Go commands print (internal/ctl) and exits with their codes.
// Every other command line, a bus address that is not one plain unix
// socket, and every failure before the bus has accepted the handshake
// return from the constructor, and the Go program runs as if the early
// path were not there. Only berthctl imports this package (for its
// constructor); it links its binary statically.
//
// It speaks only the bus protocol, with the caller's own identity, and
// needs no privileges: berthd and the bus policy decide what the caller
// may do.
package early
