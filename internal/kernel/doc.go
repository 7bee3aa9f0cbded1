// Package kernel is the thin layer between berth and raw system calls.
//
// Every raw golang.org/x/sys/unix call that berth makes goes through a
// function of this package (or of a *_linux.go file of the package that owns
// the concept, calling Retry). The wrappers retry EINTR and return errors as
// *os.SyscallError, so callers can test them with errors.Is against the
// unix.Errno values. Openat2 (Linux) also retries the EAGAIN a scoped
// lookup (RESOLVE_IN_ROOT, RESOLVE_BENEATH) returns when a rename or mount
// raced with it; every openat2 call of berth goes through it. Path and
// OpenPath, RenamePath, UnlinkPath and InodeOf take paths built on the
// caller's stack, for hot paths that must not allocate.
// ReadNonblock, WritevNonblock and SendmsgNonblock, for non-blocking
// descriptors a caller waits on in Go's poller, report EAGAIN as a
// result, not as an error; the first two are raw system calls.
// WriteSysctl and ReadSysctl set and read a /proc/sys setting with three
// system calls, where package os takes five or more.
package kernel
