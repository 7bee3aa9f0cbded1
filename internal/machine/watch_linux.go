//go:build linux

package machine

import (
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// watcher waits for leaders to exit: every leader's pidfd is in one epoll
// set, and one goroutine waits on that set, parked in the Go poller (no
// thread, no goroutine per machine). A pidfd becomes readable when its
// process exits. An event carries the entry's token, which the registry
// resolves: the watcher keeps no index of its own.
type watcher struct {
	ep *os.File
	rc syscall.RawConn

	// mu orders add and forget, which use the epoll descriptor epfd
	// directly (a RawConn.Control closure would escape, and allocate for
	// every registration), before close; closed is set by close.
	mu     sync.RWMutex
	epfd   int
	closed bool
}

// newWatcher returns a watcher with an empty epoll set.
func newWatcher() (*watcher, error) {
	fd, err := kernel.RetryInt("epoll_create1", func() (int, error) { return unix.EpollCreate1(unix.EPOLL_CLOEXEC) })
	if err != nil {
		return nil, fmt.Errorf("new watcher: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("new watcher: %w", os.NewSyscallError("fcntl", err))
	}
	w := &watcher{ep: os.NewFile(uintptr(fd), "epoll:leaders"), epfd: fd}
	if w.rc, err = w.ep.SyscallConn(); err != nil {
		_ = w.ep.Close()
		return nil, fmt.Errorf("new watcher: %w", err)
	}
	return w, nil
}

// add starts watching e's leader under e's token.
func (w *watcher) add(e *entry) error {
	err := e.leader.withFD(func(pidfd int) error {
		return w.ctl(unix.EPOLL_CTL_ADD, pidfd, e.token)
	})
	if err != nil {
		return fmt.Errorf("watch leader %d: %w", e.leader.PID, err)
	}
	return nil
}

// forget takes e's pidfd out of the set, so an exit is reported once
// (closing the pidfd also does).
func (w *watcher) forget(e *entry) {
	_ = e.leader.withFD(func(pidfd int) error { return w.ctl(unix.EPOLL_CTL_DEL, pidfd, 0) })
}

// ctl adds pidfd to the set under token, or deletes it; EBADF after
// close.
func (w *watcher) ctl(op, pidfd int, token uint64) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return os.NewSyscallError("epoll_ctl", unix.EBADF)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(uint32(token)), Pad: int32(uint32(token >> 32))}
	return kernel.Retry("epoll_ctl", func() error { return unix.EpollCtl(w.epfd, op, pidfd, &ev) })
}

// run calls exited with the token of each leader that exits, until
// close. exited must forget the token's entry, or remove it.
func (w *watcher) run(exited func(token uint64)) {
	events := make([]unix.EpollEvent, 32)
	var n int
	// One closure for all reads: a closure made in the loop would escape,
	// and allocate at every exit.
	wait := func(ep uintptr) bool {
		var err error
		n, err = unix.EpollWait(int(ep), events, 0)
		return err == nil && n > 0
	}
	for {
		if err := w.rc.Read(wait); err != nil {
			return
		}
		for _, ev := range events[:n] {
			exited(uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32)
		}
	}
}

// close ends run.
func (w *watcher) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	_ = w.ep.Close()
}
