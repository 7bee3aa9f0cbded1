// Package spawn runs one container the way systemd-nspawn does. The
// spawner (Run) keeps one OS thread in a private mount namespace of its
// own (a slave of the host's): there, as host root, it attaches a raw
// image, takes the user namespace's UID range and ownership (package
// privusers), and builds the half of the tree that needs host privileges
// (rootfs.Prepare: the root, idmapped, volatile or ephemeral, /dev with
// its nodes, /run, binds and overlays). From that thread, working in the
// container's root, it starts the second stage of its own binary
// (re-executed from /proc/self/exe with the StageArg argument, never a
// bare fork) with the container's user namespace created together with
// its mount, PID, UTS, IPC and optionally network namespaces, so the user
// namespace owns them all. It places the stage in the container's cgroup
// (given to the container's root) and hands it the configuration over a
// socket pair; while the stage works, the spawner sets up the network and
// registers the machine with machine1 (first, when the machine manager
// moves the stage into a scope of its own), then lets the stage go on.
// The stage (StageMain), PID 1 of the new PID namespace and root of its
// user namespace, unshares its cgroup namespace, sets the hostname,
// finishes the tree from inside (rootfs.Finish: /proc, /sys, /dev/pts,
// /dev/mqueue, cgroup2), pivots into it, waits for the spawner's go,
// drops capabilities and executes the payload as PID 1 (or runs
// the stub init of package pid1 with the payload as PID 2). The process
// chain is the same with and without a user namespace: spawner, then
// PID 1.
//
// The spawner forwards the console (a pty inside the container, or the
// caller's own fds 0-2 in pipe mode), forwards SIGTERM/SIGINT as the kill
// signal, reports readiness to its own service manager with sd_notify, and
// exits with the payload's status (133 for a guest reboot under
// --keep-unit). Only fds 0-2 reach the payload, its environment is built
// explicitly, and both processes are non-dumpable.
//
// Everything here needs root.
package spawn
