package containernet

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// StartIn calls start (which starts a child process) on an OS thread
// switched into the network namespace at path, so the child is born
// there (--network-namespace-path), then switches the thread back. If
// switching back fails the thread stays locked to a goroutine that never
// ends, so no other code ever runs in that namespace by accident. It
// needs CAP_SYS_ADMIN.
func StartIn(path string, start func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err, restored := startIn(path, start)
		errc <- err
		if !restored {
			select {} // keep the thread and the child's parent alive
		}
		runtime.UnlockOSThread()
	}()
	return <-errc
}

// startIn runs start in the namespace and reports whether the thread is
// back in its own.
func startIn(path string, start func() error) (error, bool) {
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", path, err), true
	}
	defer unix.Close(target)
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("network namespace: %w", err), true
	}
	defer unix.Close(self)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("join network namespace %s: %w", path, err), true
	}
	err = start()
	return err, unix.Setns(self, unix.CLONE_NEWNET) == nil
}
