// Package supervisor is berth's embedded backend: on a host without
// systemd as PID 1 it runs machines' generated units (unitgen.Unit) the
// way systemd would run the same transient units.
//
// Each unit gets a monitor: the calling program re-executed with an
// internal subcommand (see Main), detached in a session of its own, with
// an explicit environment. The monitor
//
//   - creates the unit's cgroup below its slice, in the unified hierarchy
//     and in v1 name=systemd on a hybrid host (or the single v2 hierarchy
//     of a pure v2 host), plus the v1 controllers its limits need, and
//     applies MemoryMax, TasksMax, CPUQuota, CPUWeight and IOWeight;
//   - starts ExecStart through a second entry point that joins the cgroup
//     before it execs the command, with stdout and stderr appended to the
//     machine's log under paths.Log, and for Type=notify waits for
//     READY=1 on a notify socket (TimeoutStartSec);
//   - restarts the unit when the main process exits with a status in
//     RestartForceExitStatus= (133: the guest rebooted), rate-limited like
//     systemd (5 starts in 10 s);
//   - stops it on request with systemd's escalation: KillSignal to the main
//     process (KillMode=mixed) or the whole cgroup (control-group), then
//     after TimeoutStopSec SIGKILL of the whole cgroup (cgroup.kill where
//     the kernel has it);
//   - writes the unit's Status to its run directory under paths.Run at
//     every transition (Watch reports each through inotify), and removes
//     the cgroup when the unit is down.
//
// A Supervisor keeps one monitor started ahead of need (a spare): it
// waits for the run directory of the next unit to start, so a start does
// not wait for a program to be executed and its runtime to come up. The
// supervisor starts the next spare shortly after a start is done (not
// during it: it would take the CPU from the payload), and Close ends
// the spare. A spare that died is passed over.
//
// Because the monitor, not the supervisor, is the parent of the payload,
// machines keep running when berthd exits or crashes, and a new
// Supervisor adopts them from their status files: it finds their monitors
// (PID plus start time, against PID reuse) and stops, kills and queries
// them like its own. The supervisor talks to a monitor with signals only:
// SIGTERM stops the unit, SIGUSR1 stops it by force; it waits for a
// monitor to exit through a pidfd, which works for monitors it did not
// start.
//
// Transitions of one unit are serialized by an in-process mutex and a
// flock on the unit's lock file: of twenty concurrent starts of one unit,
// one starts it and the rest get ErrRunning.
//
// The [Unit] dependencies (Wants=, After=, RequiresMountsFor=, ...) and
// DevicePolicy= are not applied: there are no other units to order
// against, and device access control is the v1 devices controller or a
// BPF program on v2, which the supervisor does not install.
//
// The package is Linux-only. Everything here needs root (cgroups, signals to other users'
// processes).
package supervisor
