// Package spawn runs one container the way systemd-nspawn does: the
// spawner (Run) starts a second stage of its own binary (re-executed from
// /proc/self/exe with the StageArg argument, never a bare fork) in new
// mount, PID, UTS, IPC and optionally network namespaces; places it in the
// container's cgroup and registers it with machine1; then hands it the
// configuration over a socket pair. The stage (StageMain) unshares its
// cgroup namespace, builds the root file system (package rootfs),
// pivots into it, drops capabilities and executes the payload as PID 1 (or
// runs the stub init of package pid1 with the payload as PID 2).
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
