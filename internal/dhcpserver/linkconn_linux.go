package dhcpserver

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// linkConn is a UDP socket read and written with blocking system calls, so
// that a packet wakes exactly the thread that answers it: under CPU
// contention every extra thread hand-off of the Go network poller costs a
// wait in the scheduler's run queue. A read blocks until a packet comes or
// Close shuts the socket down: it has no timeout, which would wake an idle
// link's thread (and the runtime's monitor after it) periodically.
type linkConn struct {
	fd        int
	local     net.Addr
	closed    atomic.Bool
	inUse     atomic.Int32 // ReadFrom and WriteTo calls in progress
	closeOnce sync.Once
}

// enter and leave bracket a use of the fd; the last user after Close
// closes it.
func (c *linkConn) enter() { c.inUse.Add(1) }

func (c *linkConn) leave() {
	if c.inUse.Add(-1) == 0 && c.closed.Load() {
		c.release()
	}
}

// ReadFrom reads one datagram.
func (c *linkConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.enter()
	defer c.leave()
	for {
		if c.closed.Load() {
			return 0, nil, net.ErrClosed
		}
		n, from, err := unix.Recvfrom(c.fd, b, 0)
		switch {
		case err == unix.EINTR || (err == nil && n == 0 && c.closed.Load()):
			continue // signal or shutdown: check closed again
		case err != nil:
			return 0, nil, &net.OpError{Op: "read", Net: "udp4", Err: err}
		}
		var addr *net.UDPAddr
		if sa, ok := from.(*unix.SockaddrInet4); ok {
			addr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)))
		}
		return n, addr, nil
	}
}

// WriteTo sends one datagram to a *net.UDPAddr.
func (c *linkConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || ua.IP.To4() == nil {
		return 0, &net.OpError{Op: "write", Net: "udp4", Err: net.InvalidAddrError("not an IPv4 UDP address")}
	}
	c.enter()
	defer c.leave()
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	sa := &unix.SockaddrInet4{Port: ua.Port, Addr: [4]byte(ua.IP.To4())}
	err := kernel.Retry("sendto", func() error { return unix.Sendto(c.fd, b, 0, sa) })
	if err != nil {
		return 0, &net.OpError{Op: "write", Net: "udp4", Err: err}
	}
	return len(b), nil
}

// Close wakes blocked reads (shutdown) and closes the socket once no read
// or write uses it any more.
func (c *linkConn) Close() error {
	if c.closed.Swap(true) {
		return net.ErrClosed
	}
	_ = unix.Shutdown(c.fd, unix.SHUT_RDWR) // ENOTCONN on UDP, but it wakes readers
	if c.inUse.Load() == 0 {
		c.release()
	}
	return nil
}

func (c *linkConn) release() { c.closeOnce.Do(func() { unix.Close(c.fd) }) }

func (c *linkConn) LocalAddr() net.Addr              { return c.local }
func (c *linkConn) SetDeadline(time.Time) error      { return nil }
func (c *linkConn) SetReadDeadline(time.Time) error  { return nil }
func (c *linkConn) SetWriteDeadline(time.Time) error { return nil }
