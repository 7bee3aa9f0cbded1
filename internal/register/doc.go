// Package register registers a container with org.freedesktop.machine1 on
// the system bus, as systemd-nspawn does, so it works against berthd and
// systemd-machined alike: RegisterMachineWithNetwork for --keep-unit (the
// caller's unit is the machine's), CreateMachineWithNetwork otherwise (the
// manager makes a scope for the leader), and UnregisterMachine at the end.
//
// The bus comes from $DBUS_SYSTEM_BUS_ADDRESS or the default system bus
// socket. Registering needs the bus policy to let the caller (root) call
// the Manager.
package register
