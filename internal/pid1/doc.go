// Package pid1 is the stub init of berth-nspawn -a (--as-pid2): it runs as
// PID 1 of the container's PID namespace, starts the payload as PID 2,
// reaps every orphan that is re-parented to it, forwards the signals it
// receives to the payload, and exits with the payload's status (255 when
// the payload was killed by a signal, as systemd-nspawn's stub does).
//
// It must run as PID 1 of a PID namespace (Linux only); it needs no
// privileges beyond that.
package pid1
