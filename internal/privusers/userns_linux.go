package privusers

import "os"

// KernelHasUserNS reports whether this kernel has user namespaces (the
// argument FlagU wants).
func KernelHasUserNS() bool {
	_, err := os.Stat("/proc/self/ns/user")
	return err == nil
}
