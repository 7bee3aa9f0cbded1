//go:build !cgo || !linux

package pid1

// NativeStub reports that this build has no C stub init: Run (the Go stub)
// is used, and the payload's PID is the first one after the Go runtime's
// threads rather than 2.
const NativeStub = false
