// Package machine1 is berthd's bus adapter: it exports
// org.freedesktop.machine1.{Manager,Machine,Image} with systemd v252's
// signatures, object paths and error names, plus berth's dev.berth.Manager1
// and dev.berth.Machine1, over plain Go interfaces (Machines, Images).
//
// It installs its own godbus Handler so that it controls what the bus
// sees: every call's signature is checked against the contract before any
// work (InvalidArgs otherwise), unknown machine paths answer UnknownObject,
// introspection is served from the dbusinterfaces XML files, and
// "/org/freedesktop/machine1/machine/self" is the caller's machine.
//
// Authorization fails closed: the caller's UID comes from the bus daemon
// (GetConnectionUnixUser of the message's sender), never from a PID; any
// error getting it denies. Every mutating method needs UID 0. Errors
// become D-Bus error names in exactly one function, busError.
package machine1
