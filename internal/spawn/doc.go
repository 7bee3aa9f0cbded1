// Package spawn runs one container the way systemd-nspawn does. The
// spawner (Run) keeps one OS thread for mounts, in a private mount
// namespace of its own (a slave of the host's) where a raw image or a user
// namespace needs one: there, as host root, it attaches a raw image, takes
// the user namespace's UID range and ownership (package privusers), and
// builds the half of the tree that needs host privileges (rootfs.Prepare:
// the root, idmapped, volatile or ephemeral, /dev with its nodes, /run,
// binds and overlays). From that thread, working in the container's root,
// it starts the second stage of its own binary (re-executed from
// /proc/self/exe with the stage argument, never a bare fork) with the
// container's user namespace created together with its mount, PID, UTS,
// IPC and optionally network namespaces, so the user namespace owns them
// all. Without a user namespace the thread builds the tree in a fresh
// slave copy of its namespace instead and starts the stage first, in that
// copy, so that its start overlaps rootfs.Prepare; the thread then leaves
// the copy to the stage, which gets the root with its configuration and
// enters it (joinsRoot). Before it configures the stage, the spawner
// computes everything the stage needs in the prepared tree (planStage:
// the user of -u from the image's passwd files, the payload's path,
// environment and working directory, capabilities, resource limits, the
// seccomp program). It places the stage
// in the container's cgroup (given to the container's root) and sends it
// that configuration in a fixed binary encoding (stage.h) over a socket
// pair; while the stage works (a stage cloned in a user namespace from
// its own exec on: the spawner does not wait for it), the spawner sets up
// the network and registers the machine with machine1 (first, when the machine manager
// moves the stage into a scope of its own), then lets the stage go on.
//
// The stage is C (stage.c, stage_mounts.c), run from a constructor before
// the Go runtime starts, so a container start runs one Go runtime, the
// spawner's. The same constructor dispatches the stub init of package
// pid1, and tunes the spawner's start: the runtime starts on one CPU, so
// that it makes one P (the package's init gives every thread the CPU
// affinity back), and the spawner's threads get a coarse timer slack (the
// runtime's monitor thread naps in 20 µs steps); the processes the
// spawner starts get the slack it was started with again. The stage, PID 1 of the new PID namespace and root of its user
// namespace, unshares its cgroup namespace, sets the hostname, finishes
// the tree from inside (/proc, /sys, /dev/pts, /dev/mqueue, cgroup2, the
// boot ID; every target opened with openat2 RESOLVE_IN_ROOT), pivots into
// it, passes the console and notify socket back, waits for the spawner's
// go, applies the limits and filter, drops capabilities, switches user
// and executes the payload as PID 1 (or the stub init, from a sealed copy
// of the binary, with the payload as PID 2). The process chain is the
// same with and without a user namespace: spawner, then PID 1. Package
// spawn therefore needs cgo.
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
