// Package sysdbackend is berth's systemd backend: on a host booted with
// systemd (Booted), berthd runs each machine's generated unit
// (unitgen.Unit) as a transient unit through org.freedesktop.systemd1 on
// the system bus, in machine.slice with Delegate=yes, and stops, kills
// and queries it there.
//
// Properties turns a Unit into StartTransientUnit's property list; it is
// pure and unit-tested. The rest is a thin layer over go-systemd's dbus
// package: jobs are waited for and their results ("done", "failed",
// "timeout", ...) become errors, and a unit's ActiveState becomes the
// machine's State (opening, running, closing); Watch follows the
// ActiveState changes of machine units through systemd's
// PropertiesChanged signals, on a bus connection of its own that receives
// only the Unit interface's and reads those of machine units itself, in
// place (dbuswire), where godbus would decode all of a signal's
// properties: godbus only makes Watch's calls. All
// connections are rawsock sockets (no thread wake-ups of Go's poller and
// runtime monitor when systemd answers an idle berthd). PrepareStart checks that a machine can start
// apart from starting it, so that the check overlaps other work. A
// machine is looked up
// under both of its unit names (unitgen.Names), so one started at boot
// from the enabled template counts as running and is stopped where it
// runs. Calls need a bus connection allowed to manage units (root).
package sysdbackend
