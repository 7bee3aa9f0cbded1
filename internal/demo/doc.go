// Command demo is what `make demo` runs (as root): it builds a busybox
// image under a private temporary root and runs containers through the
// freshly built bin/berth-nspawn, showing the container's hostname, that
// the command is PID 1, the mount table it sees, and that its exit status
// becomes berth-nspawn's. It removes everything it made and exits 0 when
// every step showed what it should.
//
// The demo is a list of steps; later issues add steps (the daemon, the
// client) to the same list.
package main
