// Package lifecycle is the machine lifecycle berthd exposes on its bus
// interface: StartMachine, PowerOff, Reboot, Terminate, Enable and
// Disable, and per-machine settings (resource limits, signals, stop
// timeout) that persist across restarts.
//
// A Manager ties the pieces together: it checks the name and finds the
// image (internal/images), reads the installed unit template, detects the
// guest's init to choose its stop and reboot signals (internal/stopsignal,
// overridable per machine), generates the machine's unit
// (internal/unitgen) and runs it through a Backend: the systemd backend
// (internal/sysdbackend) on hosts booted with systemd, else the embedded
// supervisor (internal/supervisor, adapted by Embedded). Boot-time start
// is internal/enable's links plus, for the embedded backend, StartEnabled
// when berthd starts.
//
// PowerOff sends the guest's power-off signal to its leader (the guest's
// PID 1) and waits up to the stop timeout; a guest still running is then
// stopped with the unit's escalation (KillSignal to berth-nspawn, which
// forwards the guest's signal again, then SIGKILL of the whole cgroup).
// The generated unit passes the same signal to berth-nspawn as
// --kill-signal=, so stopping the unit (Terminate, or systemd stopping
// berth-machines.target) also asks the guest the way it understands.
//
// Watch reports each machine's State as it changes (its unit's state
// mapped to opening, running or closing, and closing from PowerOff);
// berthd sets the registered machine's State from it.
//
// Every method needs root.
package lifecycle
