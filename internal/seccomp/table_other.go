//go:build !(linux && amd64)

package seccomp

// auditArch is 0: no system call table for this architecture.
const auditArch = 0

// syscallTable is empty on this architecture.
func syscallTable() map[string]uint32 { return map[string]uint32{} }
