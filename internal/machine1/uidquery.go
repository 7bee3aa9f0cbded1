package machine1

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/berth-dev/berth/internal/dbuswire"
)

// A caller the server does not know yet (a spawner's connection, which
// makes a single registration, or a client's, berthctl's say) needs its
// UID from the bus before a root-only call. godbus's Call left about 3 KB
// of garbage for each such query, so one registration per connection, as
// systemd-nspawn and berth-nspawn make them, left kilobytes a machine.
// busSocket asks the bus itself instead: it writes the
// GetConnectionUnixUser call with one of its own serials and takes the
// reply out of the messages it reads, before godbus sees them. One query
// is in flight at a time.

// uidQuery is the GetConnectionUnixUser call in flight.
type uidQuery struct {
	// mu lets one query at a time be in flight.
	mu sync.Mutex
	// serial is the serial of the call in flight, 0 if none; whoever
	// swaps it to 0 (the reader with the reply, or a failure) sends
	// the one answer on reply.
	serial atomic.Uint32
	// reply carries the answer (capacity 1, made by dialBus).
	reply chan uidReply
	// closed is set once the reader stopped: no reply will come.
	closed atomic.Bool
}

// uidReply is the answer to a query.
type uidReply struct {
	uid uint32
	err error
}

var (
	errBusClosed = errors.New("bus connection closed")
	errNoUID     = errors.New("bus answered without a UID")
)

// busDaemon is the bus daemon's name, path and interface.
const busDaemon = "org.freedesktop.DBus"

// unixUser asks the bus for the UID of the connection with the unique name
// name, without allocating.
func (s *busSocket) unixUser(name string) (uint32, error) {
	q := &s.uidq
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := s.sendUIDQuery(name); err != nil {
		return 0, fmt.Errorf("GetConnectionUnixUser: %w", err)
	}
	r := <-q.reply
	if r.err != nil {
		return 0, fmt.Errorf("GetConnectionUnixUser: %w", r.err)
	}
	return r.uid, nil
}

// sendUIDQuery writes the GetConnectionUnixUser call for name, its serial
// set in flight first (the reply may be read before the write returns).
func (s *busSocket) sendUIDQuery(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := dbuswire.Encoder{Buf: s.body[:0]}
	e.Str(name)
	body, err := s.encodedLocked(&e)
	if err != nil {
		return err
	}
	serial := s.nextSerial()
	h := dbuswire.Header{Type: dbuswire.TypeCall, Serial: serial, Path: "/org/freedesktop/DBus", Interface: busDaemon,
		Member: "GetConnectionUnixUser", Destination: busDaemon, Signature: "s"}
	header, err := dbuswire.AppendHeader(s.header[:0], &h, len(body))
	if err != nil {
		return err
	}
	s.uidq.serial.Store(serial)
	if s.uidq.closed.Load() {
		err = errBusClosed
	} else {
		err = s.sendLocked(header, body, nil)
	}
	if err != nil && !s.uidq.serial.CompareAndSwap(serial, 0) {
		<-s.uidq.reply // the reader answered after all
	}
	return err
}

// takeUIDReply takes msg if it is the reply to the query in flight, and
// answers the query.
func (s *busSocket) takeUIDReply(msg []byte) bool {
	q := &s.uidq
	want := q.serial.Load()
	if want == 0 || len(msg) < 2 || msg[1] != dbuswire.TypeReturn && msg[1] != dbuswire.TypeError {
		return false
	}
	m, err := dbuswire.Parse(msg)
	if err != nil || m.ReplySerial != want || m.Sender != busDaemon || !q.serial.CompareAndSwap(want, 0) {
		return false
	}
	r := uidReply{err: errNoUID}
	if m.Type == dbuswire.TypeError {
		r.err = fmt.Errorf("%s", m.ErrorName)
	} else if m.Signature == "u" {
		d := m.Args()
		if uid := d.Uint32(); d.Done() {
			r = uidReply{uid: uid}
		}
	}
	q.reply <- r
	return true
}

// stopUIDQueries fails the query in flight, and those to come: the reader
// stopped.
func (s *busSocket) stopUIDQueries() {
	q := &s.uidq
	q.closed.Store(true)
	if want := q.serial.Load(); want != 0 && q.serial.CompareAndSwap(want, 0) {
		q.reply <- uidReply{err: errBusClosed}
	}
}
