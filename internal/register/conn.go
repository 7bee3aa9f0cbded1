package register

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/dbuswire"
)

// errClosed is returned by calls on a closed connection.
var errClosed = errors.New("bus connection closed")

// CallError is an error reply.
type CallError struct {
	// Name is the D-Bus error name.
	Name string
	// Message is the error's message, if it has one.
	Message string
}

func (e *CallError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Name
}

// conn is one connection to a message bus: calls from any goroutine, one
// goroutine reading replies and signals.
type conn struct {
	f    *os.File
	r    *bufio.Reader // of f, read by the reading goroutine alone
	addr string        // the socket, for errors

	// ready is closed when the handshake's answers are in: then name is
	// the unique name Hello gave, or helloErr why there is none.
	ready    chan struct{}
	name     string
	helloErr error

	mu      sync.Mutex // guards what follows and writes to f
	serial  uint32
	pending map[uint32]chan *dbuswire.Message
	signal  func(*dbuswire.Message)
	closed  bool
}

// dialBus connects to the first reachable address of a bus address list
// ("unix:path=..." or "unix:abstract=...", ";"-separated), authenticates
// as the process's UID and says Hello. The handshake, BEGIN and the Hello
// go out in one write.
func dialBus(address string) (*conn, error) {
	var errs []error
	for _, a := range strings.Split(address, ";") {
		name, err := dbuswire.UnixSocket(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c, err := connect(&unix.SockaddrUnix{Name: name})
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("bus address %q: nothing to connect to", address)
	}
	return nil, errors.Join(errs...)
}

// connect opens the socket and sends the handshake. It does not wait for
// the answers: the spawner goes on with its work while the bus
// authenticates it, and the first call waits (a missing bus is still an
// error here, at once).
func connect(sa *unix.SockaddrUnix) (*conn, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dial unix %s: %w", sa.Name, os.NewSyscallError("connect", err))
	}
	// Non-blocking, so the reads go through the runtime's poller rather
	// than holding a thread for the container's lifetime.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(fd), "dbus")
	c := &conn{f: f, r: bufio.NewReader(f), addr: sa.Name, ready: make(chan struct{}), pending: map[uint32]chan *dbuswire.Message{}}
	if err := c.sendHandshake(); err != nil {
		f.Close()
		return nil, fmt.Errorf("bus %s: %w", sa.Name, err)
	}
	go c.read()
	return c, nil
}

// sendHandshake sends the EXTERNAL authentication, BEGIN and Hello (serial
// 1) in one write.
func (c *conn) sendHandshake() error {
	c.serial = 1
	hello := busCall("Hello", "")
	hello.Serial = 1
	b, err := dbuswire.AppendHeader(dbuswire.AppendAuth(make([]byte, 0, 192), os.Getuid()), &hello, 0)
	if err == nil {
		_, err = c.f.Write(b)
	}
	return err
}

// wait waits for the handshake's answers and returns why it failed.
func (c *conn) wait() error {
	<-c.ready
	return c.helloErr
}

// handshake reads the OK and Hello's reply.
func (c *conn) handshake() error {
	if err := dbuswire.ReadAuthOK(c.r); err != nil {
		return err
	}
	for {
		m, err := readMessage(c.r)
		if err != nil {
			return fmt.Errorf("hello: %w", err)
		}
		if m.ReplySerial != 1 {
			continue
		}
		if err := replyError(m); err != nil {
			return fmt.Errorf("hello: %w", err)
		}
		name, ok := firstString(m)
		if !ok {
			return fmt.Errorf("hello: %w: reply without a name", dbuswire.ErrMalformed)
		}
		c.name = name
		return nil
	}
}

// maxMessage bounds the size of a message read: the spawner's replies and
// signals are a few hundred bytes.
const maxMessage = 1 << 20

// readMessage reads and parses one message from r.
func readMessage(r *bufio.Reader) (*dbuswire.Message, error) {
	b, err := dbuswire.ReadMessage(r, maxMessage)
	if err != nil {
		return nil, err
	}
	m, err := dbuswire.Parse(b)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// read finishes the handshake, then delivers replies to their callers
// and signals to the signal handler until the connection fails or is
// closed.
func (c *conn) read() {
	if err := c.handshake(); err != nil {
		c.helloErr = fmt.Errorf("bus %s: %w", c.addr, err)
	}
	close(c.ready)
	if c.helloErr != nil {
		c.shutdown()
		return
	}
	for {
		m, err := readMessage(c.r)
		if err != nil {
			c.shutdown()
			return
		}
		switch m.Type {
		case dbuswire.TypeReturn, dbuswire.TypeError:
			c.mu.Lock()
			ch := c.pending[m.ReplySerial]
			delete(c.pending, m.ReplySerial)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		case dbuswire.TypeSignal:
			c.mu.Lock()
			h := c.signal
			c.mu.Unlock()
			if h != nil {
				h(m)
			}
		}
	}
}

// shutdown fails the pending calls.
func (c *conn) shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for s, ch := range c.pending {
		close(ch)
		delete(c.pending, s)
	}
}

// call sends the call of header h (its serial is set here) with body once
// the handshake succeeded and waits for the reply; an error reply is a
// *CallError.
func (c *conn) call(h dbuswire.Header, body []byte) (*dbuswire.Message, error) {
	if err := c.wait(); err != nil {
		return nil, err
	}
	ch, err := c.send(h, body)
	if err != nil {
		return nil, err
	}
	return c.await(ch)
}

// send sends the call of header h (its serial is set here) with body at
// once, without waiting for the handshake's answers (the bus handles a
// connection's messages in order, Hello first), and returns the channel
// its reply comes on; the channel is closed if the connection fails
// first.
func (c *conn) send(h dbuswire.Header, body []byte) (<-chan *dbuswire.Message, error) {
	ch := make(chan *dbuswire.Message, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	c.serial++
	h.Serial = c.serial
	b, err := dbuswire.AppendHeader(make([]byte, 0, 128+len(body)), &h, len(body))
	if err != nil {
		return nil, err
	}
	c.pending[h.Serial] = ch
	if _, err := c.f.Write(append(b, body...)); err != nil {
		delete(c.pending, h.Serial)
		return nil, err
	}
	return ch, nil
}

// await waits for the reply on ch (from send); an error reply is a
// *CallError, a failed handshake its error.
func (c *conn) await(ch <-chan *dbuswire.Message) (*dbuswire.Message, error) {
	reply, ok := <-ch
	if !ok {
		select {
		case <-c.ready:
			if c.helloErr != nil {
				return nil, c.helloErr
			}
		default:
		}
		return nil, errClosed
	}
	return reply, replyError(reply)
}

// onSignal makes h receive every signal; h runs on the reading goroutine
// and must not call c.
func (c *conn) onSignal(h func(*dbuswire.Message)) {
	c.mu.Lock()
	c.signal = h
	c.mu.Unlock()
}

// close closes the connection; the pending calls fail.
func (c *conn) close() error {
	err := c.f.Close()
	c.shutdown()
	return err
}

// replyError is the *CallError of an error reply, nil for another
// message.
func replyError(m *dbuswire.Message) error {
	if m.Type != dbuswire.TypeError {
		return nil
	}
	msg, _ := firstString(m)
	return &CallError{Name: m.ErrorName, Message: msg}
}

// firstString returns the body's first value when it is a STRING or an
// OBJECT_PATH (a reply's name or path, an error's message).
func firstString(m *dbuswire.Message) (string, bool) {
	if m.Signature == "" || (m.Signature[0] != 's' && m.Signature[0] != 'o') {
		return "", false
	}
	d := m.Args()
	s := d.Str()
	return s, d.Err() == nil
}

// busCall is the header of a call of the bus itself
// (org.freedesktop.DBus) with a body of signature sig.
func busCall(member, sig string) dbuswire.Header {
	return dbuswire.Header{Type: dbuswire.TypeCall, Path: "/org/freedesktop/DBus", Interface: "org.freedesktop.DBus",
		Member: member, Destination: "org.freedesktop.DBus", Signature: sig}
}

// stringBody marshals a body of one STRING.
func stringBody(s string) []byte {
	var e dbuswire.Encoder
	e.Str(s)
	return e.Buf
}
