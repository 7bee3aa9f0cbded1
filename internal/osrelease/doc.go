// Package osrelease reads os-release(5) from a machine's root directory
// without trusting it.
//
// The file is looked up as /etc/os-release, then /usr/lib/os-release,
// below a root directory file descriptor with openat2(RESOLVE_IN_ROOT), so
// no symlink in the image can lead the lookup out of the root. The file
// must be a regular file (never a FIFO or device; it is opened
// non-blocking) and at most MaxSize bytes. Parse is the pure parser and is
// fuzzed. Reading needs whatever access the caller has to the root.
package osrelease
