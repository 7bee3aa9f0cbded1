// Package nsthread runs a function on an OS thread switched into another
// network namespace, so that sockets it opens and /proc/sys/net files it
// writes belong to that namespace. The thread is never returned to the Go
// scheduler, so no other goroutine ever runs in the namespace by accident.
// Switching needs CAP_SYS_ADMIN; with an empty path the function runs in
// place.
package nsthread
