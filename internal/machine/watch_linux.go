//go:build linux

package machine

import (
	"errors"
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
// process exits.
type watcher struct {
	ep *os.File
	rc syscall.RawConn

	mu sync.Mutex
	// next is the token of the next added entry; guarded by mu.
	next uint64
	// waiting maps tokens to the entries being watched; guarded by mu.
	waiting map[uint64]*entry
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
	w := &watcher{ep: os.NewFile(uintptr(fd), "epoll:leaders"), waiting: map[uint64]*entry{}}
	if w.rc, err = w.ep.SyscallConn(); err != nil {
		_ = w.ep.Close()
		return nil, fmt.Errorf("new watcher: %w", err)
	}
	return w, nil
}

// add starts watching e's leader.
func (w *watcher) add(e *entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	token := w.next
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(uint32(token)), Pad: int32(uint32(token >> 32))}
	err := e.leader.withFD(func(pidfd int) error {
		var cerr error
		err := w.rc.Control(func(ep uintptr) {
			cerr = kernel.Retry("epoll_ctl", func() error { return unix.EpollCtl(int(ep), unix.EPOLL_CTL_ADD, pidfd, &ev) })
		})
		return errors.Join(err, cerr)
	})
	if err != nil {
		return fmt.Errorf("watch leader %d: %w", e.leader.PID, err)
	}
	w.next++
	e.token = token
	w.waiting[token] = e
	return nil
}

// drop stops watching e (its pidfd leaves the epoll set when it is
// closed).
func (w *watcher) drop(e *entry) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting[e.token] == e {
		delete(w.waiting, e.token)
	}
}

// take returns and forgets the entry of an event, taking its pidfd out
// of the set, so an exit is reported once.
func (w *watcher) take(ev unix.EpollEvent) *entry {
	token := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
	w.mu.Lock()
	e := w.waiting[token]
	delete(w.waiting, token)
	w.mu.Unlock()
	if e != nil {
		_ = e.leader.withFD(func(pidfd int) error {
			return w.rc.Control(func(ep uintptr) { _ = unix.EpollCtl(int(ep), unix.EPOLL_CTL_DEL, pidfd, nil) })
		})
	}
	return e
}

// run calls exited for each entry whose leader exits, until close.
func (w *watcher) run(exited func(*entry)) {
	events := make([]unix.EpollEvent, 32)
	for {
		var n int
		err := w.rc.Read(func(ep uintptr) bool {
			var err error
			n, err = unix.EpollWait(int(ep), events, 0)
			return err == nil && n > 0
		})
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if e := w.take(ev); e != nil {
				exited(e)
			}
		}
	}
}

// close ends run.
func (w *watcher) close() { _ = w.ep.Close() }
