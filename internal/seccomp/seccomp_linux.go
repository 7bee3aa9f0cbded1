package seccomp

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// Install loads prog as a seccomp filter of the calling thread, which it
// and everything it executes keep. It needs CAP_SYS_ADMIN or
// no_new_privs; lock the thread first.
func Install(prog []unix.SockFilter) error {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	err := kernel.Retry("seccomp", func() error {
		_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
		if errno != 0 {
			return errno
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("install system call filter: %w", err)
	}
	return nil
}
