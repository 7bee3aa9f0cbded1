// Package enter runs a program inside a running machine's namespaces on a
// fresh pseudo-terminal, for OpenMachineShell and OpenMachineLogin. It
// needs no systemd or D-Bus inside the machine.
//
// A Go process cannot setns into a mount namespace (it is multithreaded),
// so the host's nsenter(1) does the entering. The namespaces and the root
// directory are donated to it as open file descriptors (opened by the
// caller against the leader's pidfd), never as PIDs, so a reused PID
// cannot redirect it. The program gets the pty slave as stdin, stdout,
// stderr and controlling terminal in a new session; the caller keeps the
// master. The host tty is never passed in. Needs root.
//
// Residual risk: between nsenter's fork and its exec of the machine's
// program, /proc/PID/exe of the child is the host's nsenter; a
// privileged (not user-namespaced) machine's root could reach it. Such
// machines are not a security boundary (see the hardening checklist).
package enter
