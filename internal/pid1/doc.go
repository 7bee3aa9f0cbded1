// Package pid1 is the stub init of berth-nspawn -a (--as-pid2): it runs as
// PID 1 of the container's PID namespace, starts the payload as PID 2,
// reaps every orphan that is re-parented to it, forwards the signals it
// receives to the payload, and exits with the payload's status (255 when
// the payload was killed by a signal, as systemd-nspawn's stub does).
//
// The stub is C (berth_pid1_stub), run before the Go runtime starts: the
// constructor of package spawn calls it when the binary is executed with
// BERTH_STUB_ARG (internal/spawn/stage.h), so the process is single-threaded and no Go runtime is started
// for it. It must run as PID 1 of a PID namespace (Linux, cgo builds
// only); it needs no privileges beyond that.
package pid1
