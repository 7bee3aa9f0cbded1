// Package ctl is berthctl: a thin machinectl-like client that speaks only
// the bus API of berthd (org.freedesktop.machine1 and berth's extension
// interfaces).
//
// The client never imports daemon, netlink or system-call packages; a test
// enforces it, so everything berthctl can do is something any bus client
// can do. It needs no privileges of its own: berthd and the bus policy
// decide what the caller may do.
//
// berthctl's one-call verbs (start, reboot, poweroff, terminate) run
// before the Go runtime starts, in C (package early), and print what these
// commands print; this package runs the rest, and those verbs when the
// early path leaves them (other flags, other bus addresses, a bus that
// refuses the handshake).
package ctl
