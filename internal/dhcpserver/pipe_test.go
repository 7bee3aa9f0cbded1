package dhcpserver

import (
	"net"
	"sync"
	"time"
)

// pipeConn is one end of an in-memory datagram pipe: what one end writes
// the other reads, whatever the destination address.
type pipeConn struct {
	in, out   chan []byte
	closeOnce *sync.Once
	done      chan struct{}
	local     net.Addr
}

func newPipe() (server, client *pipeConn) {
	a, b := make(chan []byte, 64), make(chan []byte, 64)
	once, done := &sync.Once{}, make(chan struct{})
	server = &pipeConn{in: a, out: b, closeOnce: once, done: done, local: &net.UDPAddr{Port: ServerPort}}
	client = &pipeConn{in: b, out: a, closeOnce: once, done: done, local: &net.UDPAddr{Port: ClientPort}}
	return server, client
}

func (p *pipeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case m := <-p.in:
		return copy(b, m), &net.UDPAddr{}, nil
	case <-p.done:
		return 0, nil, net.ErrClosed
	}
}

func (p *pipeConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	select {
	case p.out <- append([]byte(nil), b...):
		return len(b), nil
	case <-p.done:
		return 0, net.ErrClosed
	}
}

// recv returns the next datagram or nil after a generous timeout.
func (p *pipeConn) recv() []byte {
	select {
	case m := <-p.in:
		return m
	case <-time.After(10 * time.Second):
		return nil
	}
}

func (p *pipeConn) Close() error {
	p.closeOnce.Do(func() { close(p.done) })
	return nil
}
func (p *pipeConn) LocalAddr() net.Addr              { return p.local }
func (p *pipeConn) SetDeadline(time.Time) error      { return nil }
func (p *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (p *pipeConn) SetWriteDeadline(time.Time) error { return nil }

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
