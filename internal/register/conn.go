package register

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// defaultSystemBus is the system bus address without
// $DBUS_SYSTEM_BUS_ADDRESS.
const defaultSystemBus = "unix:path=/var/run/dbus/system_bus_socket"

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
	pending map[uint32]chan *message
	signal  func(*message)
	closed  bool
}

// systemBusAddress is where the system bus is, as sd-bus and libdbus find
// it.
func systemBusAddress() string {
	if a := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"); a != "" {
		return a
	}
	return defaultSystemBus
}

// dialBus connects to the first reachable address of a bus address list
// ("unix:path=..." or "unix:abstract=...", ";"-separated), authenticates
// as the process's UID and says Hello. The handshake, BEGIN and the Hello
// go out in one write.
func dialBus(address string) (*conn, error) {
	var errs []error
	for _, a := range strings.Split(address, ";") {
		sa, err := parseAddress(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c, err := connect(sa)
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

// parseAddress returns the socket of one unix: bus address.
func parseAddress(a string) (*unix.SockaddrUnix, error) {
	kv, ok := strings.CutPrefix(a, "unix:")
	if !ok {
		return nil, fmt.Errorf("bus address %q: only unix: transports are supported", a)
	}
	for _, p := range strings.Split(kv, ",") {
		k, v, _ := strings.Cut(p, "=")
		v, err := unescapeAddress(v)
		if err != nil {
			return nil, fmt.Errorf("bus address %q: %w", a, err)
		}
		switch k {
		case "path":
			return &unix.SockaddrUnix{Name: v}, nil
		case "abstract":
			return &unix.SockaddrUnix{Name: "@" + v}, nil
		}
	}
	return nil, fmt.Errorf("bus address %q: no path= or abstract=", a)
}

// unescapeAddress undoes the %XX escaping of address values.
func unescapeAddress(v string) (string, error) {
	if !strings.Contains(v, "%") {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		if i+2 >= len(v) {
			return "", errors.New("truncated escape")
		}
		n, err := strconv.ParseUint(v[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape %q", v[i:i+3])
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), nil
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
	c := &conn{f: f, r: bufio.NewReader(f), addr: sa.Name, ready: make(chan struct{}), pending: map[uint32]chan *message{}}
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
	uid := strconv.Itoa(os.Getuid())
	auth := fmt.Sprintf("\x00AUTH EXTERNAL %x\r\nBEGIN\r\n", uid)
	c.serial = 1
	hello := busCall("Hello", "", nil)
	hello.serial = 1
	_, err := c.f.Write(append([]byte(auth), hello.encode()...))
	return err
}

// wait waits for the handshake's answers and returns why it failed.
func (c *conn) wait() error {
	<-c.ready
	return c.helloErr
}

// handshake reads the OK and Hello's reply.
func (c *conn) handshake() error {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	if !strings.HasPrefix(line, "OK ") {
		return fmt.Errorf("authenticate: %q", strings.TrimSpace(line))
	}
	for {
		m, err := readMessage(c.r)
		if err != nil {
			return fmt.Errorf("hello: %w", err)
		}
		if m.replySerial != 1 {
			continue
		}
		if err := m.err(); err != nil {
			return fmt.Errorf("hello: %w", err)
		}
		name, ok := m.firstString()
		if !ok {
			return fmt.Errorf("hello: %w: reply without a name", errMalformed)
		}
		c.name = name
		return nil
	}
}

// readMessage reads one message from r.
func readMessage(r *bufio.Reader) (*message, error) {
	head, err := r.Peek(16)
	if err != nil {
		return nil, err
	}
	n, err := messageSize(head)
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return decodeMessage(b)
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
		switch m.typ {
		case typeReturn, typeError:
			c.mu.Lock()
			ch := c.pending[m.replySerial]
			delete(c.pending, m.replySerial)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		case typeSignal:
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

// call sends m (its serial is set here) and waits for the reply; an error
// reply is a *CallError.
func (c *conn) call(m *message) (*message, error) {
	if err := c.wait(); err != nil {
		return nil, err
	}
	ch := make(chan *message, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errClosed
	}
	c.serial++
	m.serial = c.serial
	c.pending[m.serial] = ch
	_, err := c.f.Write(m.encode())
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	reply, ok := <-ch
	if !ok {
		return nil, errClosed
	}
	return reply, reply.err()
}

// onSignal makes h receive every signal; h runs on the reading goroutine
// and must not call c.
func (c *conn) onSignal(h func(*message)) {
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

// err is the *CallError of an error reply, nil otherwise.
func (m *message) err() error {
	if m.typ != typeError {
		return nil
	}
	msg, _ := m.firstString()
	return &CallError{Name: m.errName, Message: msg}
}

// busCall is a call of the bus itself (org.freedesktop.DBus) with a body
// of signature sig.
func busCall(member, sig string, body []byte) *message {
	return &message{typ: typeCall, path: "/org/freedesktop/DBus", iface: "org.freedesktop.DBus",
		member: member, destination: "org.freedesktop.DBus", signature: sig, body: body}
}

// stringBody marshals a body of one STRING.
func stringBody(s string) []byte {
	var e encoder
	e.string(s)
	return e.b
}
