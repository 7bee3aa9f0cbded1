//go:build !linux

package privusers

// KernelHasUserNS reports false: user namespaces are Linux only.
func KernelHasUserNS() bool { return false }
