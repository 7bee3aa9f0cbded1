// Package kernel is the thin layer between berth and raw system calls.
//
// Every raw golang.org/x/sys/unix call that berth makes goes through a
// function of this package (or of a *_linux.go file of the package that owns
// the concept, calling Retry). The wrappers retry EINTR and return errors as
// *os.SyscallError, so callers can test them with errors.Is against the
// unix.Errno values.
package kernel
