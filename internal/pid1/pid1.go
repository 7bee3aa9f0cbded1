package pid1

// ExitException is the status when the payload was killed by a signal.
const ExitException = 255

// StubArg is the first argument that makes a cgo build of the binary run
// the C stub init before the Go runtime starts: argv is
// [any, StubArg, path, argv0, args...].
const StubArg = "__berth-nspawn-stub"
