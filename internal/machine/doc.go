// Package machine is berthd's registry of running machines: what
// systemd-machined keeps in its machines hashmap, with the same validation
// and semantics, and no dependency on systemd.
//
// A machine is registered with a Spec (name, 16-byte id, service, class,
// leader PID, root directory, network interfaces). The registry opens a
// pidfd for the leader at once, so it never signals a process that merely
// reuses the leader's PID, and removes the machine (telling its Observer)
// when the leader exits: one goroutine waits on one epoll set holding
// every leader's pidfd. A machine whose leader is in a cgroup of its own
// (cgroup2) is that group: Kill "all" signals every process in it, and
// ByPID maps any of them to the machine. Each machine is written atomically to a state
// file under paths.Run; New reloads those files after a restart, keeps the
// machines whose leader is still the same process, removes the rest and
// skips unreadable files with a warning.
//
// The registry keeps each machine in a compact entry carved, with its
// strings, from chunks that hold nothing else (dense.go), so the memory
// a machine costs is its data, not Go heap spans it shares with garbage.
//
// All methods may be called concurrently. Registering, signalling and
// inspecting other processes' namespaces need root (CAP_SYS_ADMIN,
// CAP_KILL, CAP_SYS_PTRACE); the callers authorize their own clients first.
package machine
