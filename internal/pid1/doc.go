// Package pid1 is the stub init of berth-nspawn -a (--as-pid2): it runs as
// PID 1 of the container's PID namespace, starts the payload, reaps every
// orphan that is re-parented to it, forwards the signals it receives to the
// payload, and exits with the payload's status (255 when the payload was
// killed by a signal, as systemd-nspawn's stub does).
//
// A cgo build carries the stub in C, run from a constructor before the Go
// runtime starts (the process is then single-threaded, so the payload is
// PID 2, as with systemd-nspawn); the binary is executed with StubArg for
// it. Without cgo, Run is the same loop in Go, and the payload's PID is the
// first one after the Go runtime's threads. It must run as PID 1 of a PID
// namespace (Linux only); it needs no privileges beyond that.
package pid1
