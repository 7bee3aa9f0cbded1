// Command demo is what `make demo` runs (as root): it builds a busybox
// image under a private temporary root and runs containers through the
// freshly built bin/berth-nspawn, showing the container's hostname, that
// the command is PID 1, the mount table it sees, and that its exit status
// becomes berth-nspawn's.
//
// Then it runs the service: a private dbus-daemon configured like the
// system bus with berth's policy, a network namespace of its own (`ip
// netns add`), the unit template installed under the private root, and
// bin/berthd there (--root, embedded backend). Through bin/berthctl it
// starts a busybox machine (listed by berthctl and by the real
// machinectl), shows its status, powers it off, enables and disables it,
// and shows the error for a missing image.
//
// It removes everything it made (machines, berthd, the bus, the
// namespace, the root) and exits 0 when every step showed what it should.
// The demo is a list of steps; later issues add steps to the same list.
package main
