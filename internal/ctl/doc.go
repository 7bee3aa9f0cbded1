// Package ctl is berthctl: a thin machinectl-like client that speaks only
// the bus API of berthd (org.freedesktop.machine1 and berth's extension
// interfaces).
//
// The client never imports daemon, netlink or system-call packages; a test
// enforces it, so everything berthctl can do is something any bus client
// can do. It needs no privileges of its own: berthd and the bus policy
// decide what the caller may do.
//
// `berthctl start NAME...` without flags takes a quick path when the bus
// is a plain unix socket: no command tree, and the authentication, Hello
// and first call leave in one write (as sd-bus pipelines them), so the
// start waits for one round trip to the bus instead of five.
package ctl
