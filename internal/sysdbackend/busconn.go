package sysdbackend

import (
	"bufio"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/dbuswire"
	"github.com/berth-dev/berth/internal/rawsock"
)

// busStream is one of the backend's bus connections as godbus reads and
// writes it: a rawsock.Socket, which spares berthd the thread wake-ups
// of a net.Conn each time systemd's reply or signal ends an idle spell,
// behind a buffered reader (godbus decodes a message in many small
// reads). godbus sends one message per Write, in order.
type busStream struct {
	raw *rawsock.Socket
	r   *bufio.Reader

	// keep, if not nil, says which messages read godbus gets, once the
	// SASL exchange has ended (messages): the rest are dropped, unread
	// by godbus. It is called on godbus's reader goroutine with each
	// whole message, in a buffer reused for the next: what it reads it
	// must copy to keep.
	keep     func(msg []byte) bool
	messages atomic.Bool
	// in is the buffer messages are read into and pending the unread
	// rest of the one godbus reads; only godbus's reader uses them.
	in, pending []byte

	mu sync.Mutex
	// iov is the buffer list of the write in flight; guarded by mu.
	iov [1][]byte
}

// busReadBuffer is the size of a busStream's read buffer: a burst of
// systemd's signals is read in few system calls.
const busReadBuffer = 16 << 10

// newBusStream returns the busStream on raw that passes godbus the
// messages keep (nil: all) returns true for.
func newBusStream(raw *rawsock.Socket, keep func(msg []byte) bool) *busStream {
	return &busStream{raw: raw, r: bufio.NewReaderSize(raw, busReadBuffer), keep: keep}
}

// Read implements io.Reader. With keep, after the SASL exchange, it
// reads whole messages and hands godbus those keep wants.
func (s *busStream) Read(p []byte) (int, error) {
	if s.keep == nil || !s.messages.Load() {
		return s.r.Read(p)
	}
	for len(s.pending) == 0 {
		msg, err := dbuswire.AppendMessage(s.in, s.r, dbuswire.MaxMessage)
		if err != nil {
			return 0, err
		}
		if s.in = msg; cap(msg) > busReadBuffer {
			s.in = nil // a rare large message's buffer is not kept
		}
		if s.keep(msg) {
			s.pending = msg
		}
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

// Write implements io.Writer: it writes all of p. godbus's BEGIN ends
// the SASL exchange.
func (s *busStream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if string(p) == "BEGIN\r\n" {
		defer s.messages.Store(true)
	}
	s.iov[0] = p
	err := s.raw.WriteAll(s.iov[:], nil)
	s.iov[0] = nil
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close implements io.Closer.
func (s *busStream) Close() error { return s.raw.Close() }

// dialSystemBus opens a private connection to the system bus
// (DBUS_SYSTEM_BUS_ADDRESS overrides the address) on a busStream,
// authenticated with this process's UID (no user name lookup) and named
// with Hello. It passes no file descriptors. keep, if not nil, chooses
// the messages godbus reads (newBusStream).
func dialSystemBus(keep func(msg []byte) bool, opts ...dbus.ConnOption) (*dbus.Conn, error) {
	raw, err := rawsock.DialBus(dbuswire.SystemBusAddress())
	if err != nil {
		return nil, err
	}
	conn, err := dbus.NewConn(newBusStream(raw, keep), opts...)
	if err != nil {
		_ = raw.Close()
		return nil, err
	}
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return nil, err
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}
