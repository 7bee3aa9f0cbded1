// Package register registers a container with org.freedesktop.machine1 on
// the system bus, as systemd-nspawn does, so it works against berthd and
// systemd-machined alike: RegisterMachineWithNetwork for --keep-unit (the
// caller's unit is the machine's), CreateMachineWithNetwork otherwise (the
// manager makes a scope for the leader), and UnregisterMachine at the end.
//
// The scope properties are systemd-nspawn's: Controller (this connection),
// DevicePolicy=closed with DeviceAllow for /dev/net/tun, ptys and every
// bound device node, and KillSignal with KillMode=mixed when a kill signal
// is set. systemd asks a scope's controller to stop it with the
// org.freedesktop.systemd1.Scope.RequestStop signal; the client hands it
// to the spawner (OnRequestStop) when it comes from the owner of
// org.freedesktop.systemd1, and ignores it from anybody else.
//
// The bus comes from $DBUS_SYSTEM_BUS_ADDRESS (unix: transports) or the
// default system bus socket. Registering needs the bus policy to let the
// caller (root) call the Manager.
//
// The client speaks the D-Bus wire protocol itself, with internal/dbuswire,
// for the handful of messages a registration needs (EXTERNAL
// authentication, BEGIN and Hello in one write; AddMatch; the Manager
// calls; GetNameOwner; signals), rather than linking a general D-Bus
// library into berth-nspawn, whose start-up and per-call reflection cost
// every registered start more than the calls themselves. Its calls are
// tested against godbus.
package register
