// Package machine1 is berthd's bus adapter: it exports
// org.freedesktop.machine1.{Manager,Machine,Image} with systemd v252's
// signatures, object paths and error names, plus berth's dev.berth.Manager1
// and dev.berth.Machine1, over plain Go interfaces (Machines, Images).
//
// It installs its own godbus Handler so that it controls what the bus
// sees: every call's signature is checked against the contract before any
// work (InvalidArgs otherwise), unknown machine and image paths answer
// UnknownObject, introspection is served from the dbusinterfaces XML
// files, and "/org/freedesktop/machine1/machine/self" is the caller's
// machine.
//
// Authorization fails closed: the caller's UID comes from the bus daemon
// (GetConnectionUnixUser of the message's unique sender, cached per unique
// name, which a bus never reuses), never from a PID; any error getting it
// denies. Every mutating method needs UID 0, or, where machined asks
// polkit, polkit's yes for the caller's unique bus name (never its PID)
// when polkit runs; registration and OpenPTY are root-only.
// Errors become D-Bus error names in exactly one function, busError.
//
// Method replies and signals are encoded and written by the server
// itself (wire.go, conn.go), not by godbus, whose encoder allocates for
// every value and encodes each message twice; ListMachines' reply is
// encoded once per registry change. GetMachine and ListMachines, the hot
// calls, are answered in the connection's reader itself (fastpath.go):
// their header is parsed there and the same Server methods run, with no
// reflection and no goroutine per call. Register*, Create* without scope
// properties and UnregisterMachine of a caller the bus already named as
// root are decoded there too and run in order by one goroutine
// (fastregister.go); replies and signals are written through buffers
// the socket reuses, and messages are read into one, so a registration
// leaves little garbage behind. Anything else, and any
// call the fast path doubts, goes to godbus unchanged, which decodes and
// dispatches it. godbus also sends errors and the server's own calls.
//
// dev.berth.Manager1's lifecycle methods (StartMachine, PowerOffMachine,
// RebootMachine, EnableMachine, DisableMachine, Get/SetMachineSettings)
// are a thin layer over Lifecycle (internal/lifecycle), root only with no
// polkit fallback: a missing image is NoSuchImage, a running (or
// registered) machine MachineExists, one that does not run NoSuchMachine,
// an invalid name or setting InvalidArgs.
//
// Where berthd differs from systemd-machined, by design:
//   - Without systemd as PID 1 there is no scope to create: CreateMachine*
//     registers the leader where it runs, exactly like RegisterMachine*
//     (the scope properties are type-checked and ignored) and replies at
//     once.
//   - Kill "all" signals every process in the machine's own cgroup (its
//     leader's cgroup2 group, unless that group is the root or holds
//     berthd: SIGKILL through cgroup.kill on pure cgroup v2, else a walk
//     of cgroup.procs) and in the leader's own PID namespace, each
//     through its own pidfd. GetMachineByPID finds a process's machine
//     through the same cgroup, as machined does through the unit.
//   - OpenMachineShell and OpenMachineLogin enter the machine's namespaces
//     directly (package enter), so they work in images without systemd or
//     D-Bus; login runs the image's login(1) rather than a getty unit.
//   - BindMountMachine attaches an open_tree clone from inside the
//     machine's mount namespace, idmapped for user-namespaced machines
//     (machined refuses those).
//   - Copy* resolve container paths inside /proc/LEADER/root with
//     RESOLVE_IN_ROOT and copy symlinks as symlinks (package treecopy).
package machine1
