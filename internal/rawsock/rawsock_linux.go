//go:build linux

package rawsock

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/dbuswire"
	"github.com/berth-dev/berth/internal/kernel"
)

// Socket is a connected unix stream socket (one of berthd's bus
// connections) read and written with raw system calls
// (kernel.ReadNonblock, kernel.WritevNonblock) and kept out of Go's
// poller; a reader or writer that must wait parks in the
// poller on an epoll set that holds the socket for the one event it
// waits for. Both avoid a thread wake-up per call that machined does not
// pay (measured for GetMachine in the test host):
//   - a read or write through package net tells the runtime it enters a
//     system call, which wakes the runtime's monitor thread whenever
//     berthd was idle;
//   - Go's poller watches every descriptor for writing too, edge
//     triggered, and the kernel reports a socket writable each time the
//     bus reads a reply from it: the poller's thread woke once more per
//     call, for nothing.
//
// One goroutine may read at a time and one may write at a time (the
// caller orders its writes): each side keeps its operation in flight in
// its own fields, and the functions handed to the poller are made once,
// so a call allocates nothing. Close may be called at any time.
type Socket struct {
	// fd is the socket, non-blocking; Close closes it last, once no read
	// or write can be using it.
	fd int
	// in is an epoll set holding the socket for reading; out holds it for
	// writing only while a write waits for room (watching, which only the
	// writer uses). Both are in Go's poller.
	in, out     *os.File
	inRC, outRC syscall.RawConn
	outFD       int
	watching    bool

	// p is the buffer of the read in flight, n and err its result.
	p   []byte
	n   int
	err error
	// bufs is what the write in flight has yet to write, oob the control
	// message to send with its first byte, werr its error.
	bufs [][]byte
	oob  []byte
	werr error

	readFn, writeFn func(fd uintptr) bool

	closeOnce sync.Once
	closeErr  error
}

// Dial connects to the unix stream socket name (a path, or "@"
// and an abstract name).
func Dial(name string) (*Socket, error) {
	fd, err := kernel.RetryInt("socket", func() (int, error) {
		return unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", name, err)
	}
	if err := kernel.Retry("connect", func() error { return unix.Connect(fd, &unix.SockaddrUnix{Name: name}) }); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("dial %s: %w", name, err)
	}
	r, err := New(fd)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", name, err)
	}
	return r, nil
}

// DialBus connects to the first unix: path or abstract socket of a D-Bus
// address (a ";"-separated list) that accepts the connection.
func DialBus(address string) (*Socket, error) {
	var last error = fmt.Errorf("no unix socket in bus address %q", address)
	for _, a := range strings.Split(address, ";") {
		name, err := dbuswire.UnixSocket(a)
		if err != nil {
			continue
		}
		r, err := Dial(name)
		if err != nil {
			last = err
			continue
		}
		return r, nil
	}
	return nil, last
}

// New returns the Socket of the connected stream socket fd, which it
// owns from then on (and closes on an error).
func New(fd int) (*Socket, error) {
	r := &Socket{fd: fd, outFD: -1}
	r.readFn, r.writeFn = r.readOnce, r.writeSome
	if err := r.setup(); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// setup makes the socket non-blocking and makes the two epoll sets.
func (r *Socket) setup() error {
	if err := unix.SetNonblock(r.fd, true); err != nil {
		return os.NewSyscallError("fcntl", err)
	}
	var inFD int
	var err error
	if r.in, r.inRC, inFD, err = pollableEpoll("epoll:bus-in"); err != nil {
		return err
	}
	if err := r.ctl(inFD, unix.EPOLL_CTL_ADD, unix.EPOLLIN); err != nil {
		return err
	}
	r.out, r.outRC, r.outFD, err = pollableEpoll("epoll:bus-out")
	return err
}

// pollableEpoll returns a new, empty epoll set as a file in Go's poller,
// with its raw descriptor.
func pollableEpoll(name string) (*os.File, syscall.RawConn, int, error) {
	fd, err := kernel.RetryInt("epoll_create1", func() (int, error) { return unix.EpollCreate1(unix.EPOLL_CLOEXEC) })
	if err != nil {
		return nil, nil, -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return nil, nil, -1, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, nil, -1, err
	}
	return f, rc, fd, nil
}

// ctl adds the socket to the epoll set epfd for events, or deletes it.
func (r *Socket) ctl(epfd, op int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(r.fd)}
	return kernel.Retry("epoll_ctl", func() error { return unix.EpollCtl(epfd, op, r.fd, &ev) })
}

// Read implements io.Reader: it waits until the socket has bytes to
// read, then reads what is there, up to len(p).
func (r *Socket) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p, r.n, r.err = p, 0, nil
	err := r.inRC.Read(r.readFn)
	r.p = nil
	if err == nil {
		err = r.err
	}
	switch {
	case err != nil:
		return 0, err
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// readOnce is the read the poller calls, first and then each time the
// socket may be readable; false asks it to wait.
func (r *Socket) readOnce(uintptr) bool {
	n, again, err := kernel.ReadNonblock(r.fd, r.p)
	r.n, r.err = n, err
	return !again
}

// WriteAll writes bufs, in order, as one stream of bytes, in one writev
// unless the socket's buffer is full; oob (such as unix.UnixRights), if
// any, goes with the first byte and then bufs must be one buffer. It
// consumes bufs' elements. Calls must not overlap.
func (r *Socket) WriteAll(bufs [][]byte, oob []byte) error {
	r.bufs, r.oob, r.werr = bufs, oob, nil
	err := r.outRC.Read(r.writeFn)
	// After an error of the poller (Close), the out set is gone: the
	// socket is no longer watched.
	r.bufs, r.oob, r.watching = nil, nil, false
	if err == nil {
		err = r.werr
	}
	return err
}

// writeSome writes as much of r.bufs as the socket takes; false asks the
// poller to wait until the socket has room, in the out set, where the
// socket is only while a write waits: the bus reading from it would wake
// the poller otherwise.
func (r *Socket) writeSome(uintptr) bool {
	for r.bufs = dropWritten(r.bufs, 0); len(r.bufs) > 0; {
		n, again, err := r.writeOnce()
		switch {
		case err != nil:
			return r.writeDone(err)
		case again && !r.watching:
			r.watching = true
			if err := r.ctl(r.outFD, unix.EPOLL_CTL_ADD, unix.EPOLLOUT); err != nil {
				return r.writeDone(err)
			}
			return false
		case again:
			return false
		case n == 0:
			return r.writeDone(io.ErrShortWrite)
		}
		r.oob = nil
		r.bufs = dropWritten(r.bufs, n)
	}
	return r.writeDone(nil)
}

// writeDone ends a write with err, taking the socket out of the out set
// if it is there, and returns true.
func (r *Socket) writeDone(err error) bool {
	if r.watching {
		r.watching = false
		if derr := r.ctl(r.outFD, unix.EPOLL_CTL_DEL, 0); err == nil {
			err = derr
		}
	}
	r.werr = err
	return true
}

// writeOnce makes one write of r.bufs (and r.oob).
func (r *Socket) writeOnce() (int, bool, error) {
	if r.oob != nil {
		return kernel.SendmsgNonblock(r.fd, r.bufs[0], r.oob)
	}
	return kernel.WritevNonblock(r.fd, r.bufs)
}

// dropWritten returns bufs without their first n bytes and without the
// empty buffers at their start.
func dropWritten(bufs [][]byte, n int) [][]byte {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs[0] = nil
		bufs = bufs[1:]
	}
	if len(bufs) > 0 {
		bufs[0] = bufs[0][n:]
	}
	return bufs
}

// Close implements io.Closer: it ends a read or write that waits, waits
// for one in flight and closes the socket.
func (r *Socket) Close() error {
	r.closeOnce.Do(func() {
		var errs []error
		for _, f := range []*os.File{r.in, r.out} {
			if f != nil {
				errs = append(errs, f.Close())
			}
		}
		errs = append(errs, os.NewSyscallError("close", unix.Close(r.fd)))
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}
