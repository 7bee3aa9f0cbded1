//go:build !(linux && amd64)

package seccomp

// auditArch is 0: no system call table for this architecture.
const auditArch = 0

// syscalls is empty on this architecture.
var syscalls = map[string]uint32{}
