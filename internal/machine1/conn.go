package machine1

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/dbus-interfaces"
	"github.com/berth-dev/berth/internal/buslabel"
	"github.com/berth-dev/berth/internal/dbuswire"
	"github.com/berth-dev/berth/internal/rawsock"
)

// busSocket is berthd's socket to the bus. godbus reads and dispatches
// every message and writes its own (calls, signals, errors) through it;
// the Server writes method replies itself, encoded by the wire encoder.
// Each message goes out in one locked write, so the two never interleave.
// Reads and writes go through a rawsock.Socket.
type busSocket struct {
	raw *rawsock.Socket
	r   *bufio.Reader

	mu sync.Mutex
	// authDone is set once the SASL exchange has ended; guarded by mu.
	authDone bool

	// messages is set once godbus sent BEGIN: Read then reads whole
	// messages and offers each to fast first.
	messages atomic.Bool
	// fast answers a call itself and reports whether it did (the fast
	// path); nil passes everything to godbus.
	fast func(msg []byte) bool
	// pending is the unread rest of the message godbus is reading, and
	// in the buffer messages are read into; only godbus's reader
	// goroutine uses them.
	pending, in []byte

	// serial numbers the replies berthd writes itself, which always have
	// the top bit set: godbus's serials count up from 1.
	serial atomic.Uint32

	// header, body and iov are reused by each message written, so a
	// burst of registrations leaves no garbage of replies and signals;
	// guarded by mu.
	header, body []byte
	iov          [2][]byte
	// path holds the object path of the last machine a reply or signal
	// named; guarded by mu.
	path []byte

	// uidq is the bus query of a caller's UID in flight.
	uidq uidQuery
}

// maxKeptBuffer bounds what busSocket keeps of its buffers between
// messages: a rare large reply's buffer goes back to the collector.
// minKeptBuffer is the size each of them starts with: registration
// calls, their replies and signals fit, so a burst of registrations
// never grows them, and 512 bytes is a size class berthd uses from its
// start. Grown by append, they would each time pass through size classes
// idle berthd has no objects in, each of which costs it the runtime's
// bookkeeping for one more class (about 15 KB resident).
const (
	maxKeptBuffer = 4 << 10
	minKeptBuffer = 512
)

// newBuffer returns an empty buffer of minKeptBuffer bytes.
func newBuffer() []byte { return make([]byte, 0, minKeptBuffer) }

// ConnectSystemBus connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS,
// a unix: address, chooses another) with s handling method calls,
// authenticates, says Hello and attaches the connection to s.
func ConnectSystemBus(s *Server) (*dbus.Conn, error) {
	sock, err := dialBus(dbuswire.SystemBusAddress())
	if err != nil {
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	s.sock, sock.fast = sock, s.fastCall
	conn, err := dbus.NewConn(sock, dbus.WithHandler(s))
	if err == nil {
		err = conn.Auth([]dbus.Auth{dbus.AuthExternal(fmt.Sprint(os.Geteuid()))})
	}
	if err == nil {
		err = conn.Hello()
	}
	if err != nil {
		_ = sock.Close()
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	s.conn = conn
	return conn, nil
}

// dialBus connects to the first unix: path or abstract socket of a bus
// address.
func dialBus(address string) (*busSocket, error) {
	raw, err := rawsock.DialBus(address)
	if err != nil {
		return nil, err
	}
	return newBusSocket(raw), nil
}

// newBusSocket returns the busSocket on raw.
func newBusSocket(raw *rawsock.Socket) *busSocket {
	return &busSocket{raw: raw, r: bufio.NewReaderSize(raw, 64<<10), uidq: uidQuery{reply: make(chan uidReply, 1)},
		in: newBuffer(), header: newBuffer(), body: newBuffer()}
}

// Read implements io.Reader for godbus. After the SASL exchange it reads
// whole messages and hands godbus those the fast path did not answer.
// File descriptors a peer sends are discarded (closed) by the kernel: no
// method of ours takes any.
func (s *busSocket) Read(p []byte) (int, error) {
	if !s.messages.Load() || s.fast == nil {
		return s.r.Read(p)
	}
	for len(s.pending) == 0 {
		msg, err := dbuswire.AppendMessage(s.in, s.r, dbuswire.MaxMessage)
		if err != nil {
			s.stopUIDQueries()
			return 0, err
		}
		// The fast path keeps nothing of msg, and godbus copies pending
		// out: the buffer is free again once pending is read.
		s.in = keep(msg)
		if s.takeUIDReply(msg) {
			continue
		}
		if !s.fast(msg) {
			s.pending = msg
		}
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

// Write implements io.Writer for godbus: one message (or SASL line) per
// call. The SASL exchange is godbus's, except that berthd asks for file
// descriptor passing (for OpenPTY, OpenShell, OpenLogin and
// OpenRootDirectory replies) before godbus's BEGIN.
func (s *busSocket) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authDone && string(p) == "BEGIN\r\n" {
		if err := s.negotiateFDsLocked(); err != nil {
			return 0, err
		}
		s.authDone = true
		defer s.messages.Store(true)
	}
	if err := s.writeLocked(p, nil); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeLocked writes a and then b, in one writev unless the socket's
// buffer is full.
func (s *busSocket) writeLocked(a, b []byte) error {
	s.iov = [2][]byte{a, b}
	err := s.raw.WriteAll(s.iov[:], nil)
	s.iov = [2][]byte{}
	return err
}

// negotiateFDsLocked asks the bus for file descriptor passing.
func (s *busSocket) negotiateFDsLocked() error {
	if err := s.writeLocked([]byte("NEGOTIATE_UNIX_FD\r\n"), nil); err != nil {
		return err
	}
	line, err := s.r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("negotiate file descriptor passing: %w", err)
	}
	if !strings.HasPrefix(line, "AGREE_UNIX_FD") {
		return fmt.Errorf("negotiate file descriptor passing: bus answered %q", strings.TrimSpace(line))
	}
	return nil
}

// Close implements io.Closer.
func (s *busSocket) Close() error { return s.raw.Close() }

// reply writes the METHOD_RETURN with values (of signature sig) for the
// call with serial replySerial from dest.
func (s *busSocket) reply(dest string, replySerial uint32, sig dbus.Signature, values []any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, fds, err := s.bodyLocked(values)
	if err != nil {
		return err
	}
	header, err := replyHeader(s.header, s.nextSerial(), replySerial, dest, sig, len(body), len(fds))
	if err != nil {
		return err
	}
	return s.sendLocked(header, body, fds)
}

// signal emits member of iface from path with values (of signature sig).
func (s *busSocket) signal(path dbus.ObjectPath, iface, member string, sig dbus.Signature, values []any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, _, err := s.bodyLocked(values)
	if err != nil {
		return err
	}
	header, err := signalHeader(s.header, s.nextSerial(), path, iface, member, sig, len(body))
	if err != nil {
		return err
	}
	return s.sendLocked(header, body, nil)
}

// replyMachine writes the METHOD_RETURN of the object path of the machine
// called name for the call with serial replySerial from dest (the reply of
// a registration or GetMachine), without allocating.
func (s *busSocket) replyMachine(dest string, replySerial uint32, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := dbuswire.Encoder{Buf: s.body[:0]}
	e.Path(s.machinePathLocked(name))
	body, err := s.encodedLocked(&e)
	if err != nil {
		return err
	}
	header, err := replyHeader(s.header, s.nextSerial(), replySerial, dest, pathSig, len(body), 0)
	if err != nil {
		return err
	}
	return s.sendLocked(header, body, nil)
}

// machineSignal emits the Manager's signal member (MachineNew or
// MachineRemoved, of signature "so") for the machine called name, without
// allocating.
func (s *busSocket) machineSignal(member, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := dbuswire.Encoder{Buf: s.body[:0]}
	e.Str(name)
	e.Path(s.machinePathLocked(name))
	body, err := s.encodedLocked(&e)
	if err != nil {
		return err
	}
	header, err := signalHeader(s.header, s.nextSerial(), ManagerPath, dbusinterfaces.Manager, member, nameAndPathSig, len(body))
	if err != nil {
		return err
	}
	return s.sendLocked(header, body, nil)
}

// nameAndPathSig is the signature of MachineNew and MachineRemoved.
var nameAndPathSig = dbus.SignatureOf("", dbus.ObjectPath(""))

// encodedLocked returns the body e encoded, or its error, and keeps the
// body's buffer.
func (s *busSocket) encodedLocked(e *dbuswire.Encoder) ([]byte, error) {
	if err := e.Err(); err != nil {
		return nil, fmt.Errorf("encode message: %w", err)
	}
	s.body = keep(e.Buf)
	return e.Buf, nil
}

// machinePathLocked returns the object path of the machine called name (a
// registered machine's name, so the path is short), built in s.path: it
// is valid until s.path is built again.
func (s *busSocket) machinePathLocked(name string) string {
	s.path = buslabel.AppendEscape(append(s.path[:0], machineDir+"/"...), name)
	return unsafe.String(unsafe.SliceData(s.path), len(s.path))
}

// bodyLocked encodes values into the socket's body buffer, or returns
// the one encoded body they are.
func (s *busSocket) bodyLocked(values []any) ([]byte, []int, error) {
	if x, ok := oneEncoded(values); ok {
		return x.body, nil, nil
	}
	body, fds, err := appendBody(s.body, values)
	if err == nil {
		s.body = keep(body)
	}
	return body, fds, err
}

// keep returns buf emptied to be reused, or a new buffer if it is too
// large to keep.
func keep(buf []byte) []byte {
	if cap(buf) > maxKeptBuffer {
		return newBuffer()
	}
	return buf[:0]
}

// nextSerial numbers a message berthd writes itself: always with the top
// bit set, as godbus's serials count up from 1.
func (s *busSocket) nextSerial() uint32 { return 1<<31 | s.serial.Add(1)&(1<<31-1) }

// sendLocked writes one message, passing fds with it, and keeps the
// header's buffer.
func (s *busSocket) sendLocked(header, body []byte, fds []int) error {
	s.header = keep(header)
	if len(fds) == 0 {
		return s.writeLocked(header, body)
	}
	s.iov = [2][]byte{append(header, body...)}
	err := s.raw.WriteAll(s.iov[:1], syscall.UnixRights(fds...))
	s.iov = [2][]byte{}
	return err
}
