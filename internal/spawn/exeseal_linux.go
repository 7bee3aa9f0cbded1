package spawn

import (
	"fmt"
	"io"
	"os"

	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// sealedSelf copies the running binary into a sealed memfd, so a process
// of the container that runs it can never reach or rewrite the host's
// binary through /proc/PID/exe (CVE-2019-5736).
func sealedSelf() (int, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return -1, fmt.Errorf("open own binary: %w", err)
	}
	defer src.Close()
	fd, err := kernel.RetryInt("memfd_create", func() (int, error) {
		return unix.MemfdCreate("berth-nspawn", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	})
	if err != nil {
		return -1, err
	}
	dst := os.NewFile(uintptr(fd), "memfd")
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return -1, fmt.Errorf("copy own binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(dst.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		dst.Close()
		return -1, fmt.Errorf("seal own binary: %w", err)
	}
	nfd, err := unix.Dup(fd) // keep the descriptor beyond dst's finalizer
	dst.Close()
	if err != nil {
		return -1, err
	}
	unix.CloseOnExec(nfd)
	return nfd, nil
}
