package netwatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/nsthread"
	"github.com/berth-dev/berth/internal/rtnl"
)

// errDumpInterrupted: the links changed while the kernel listed them.
var errDumpInterrupted = errors.New("link dump interrupted")

// linkSubBufSize is the read buffer of a linkSub: more than the kernel
// puts in one read of a dump or a burst of multicast messages.
const linkSubBufSize = 64 << 10

// linkSub is a route netlink socket subscribed to the link changes of
// one network namespace. It waits in Go's poller and reads with a raw
// system call, so a link change costs one goroutine wake-up. A
// subscription that blocks a thread in recvfrom(2) instead (as general
// netlink libraries' do) makes each message cost thread wake-ups: the
// runtime's monitor takes that thread's processor away and hands it
// off, and polls every 20 µs for a while after each such hand-off.
//
// It reads with read(2), not recvfrom(2), so it does not see the sender:
// only the kernel and processes with CAP_NET_ADMIN in the namespace may
// send to a route netlink socket, and such a process can change the links
// themselves anyway.
type linkSub struct {
	f   *os.File
	rc  syscall.RawConn
	buf []byte
	// n, again and err are the result of the last readOnce.
	n     int
	again bool
	err   error
	// readFn is readOnce, bound once.
	readFn func(uintptr) bool
}

// subscribeLinks opens a linkSub in the namespace at nsPath ("" for the
// caller's own).
func subscribeLinks(nsPath string) (*linkSub, error) {
	var fd int
	err := nsthread.Do(nsPath, func() (err error) {
		fd, err = kernel.RetryInt("socket", func() (int, error) {
			return unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe links: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("subscribe links: %w", os.NewSyscallError("bind", err))
	}
	s := &linkSub{f: os.NewFile(uintptr(fd), "netlink:links"), buf: make([]byte, linkSubBufSize)}
	if s.rc, err = s.f.SyscallConn(); err != nil {
		_ = s.f.Close()
		return nil, fmt.Errorf("subscribe links: %w", err)
	}
	s.readFn = s.readOnce
	return s, nil
}

// dump asks the kernel for every link; each comes back as an
// RTM_NEWLINK message among the changes.
func (s *linkSub) dump() error {
	const hdrLen, ifiLen = unix.SizeofNlMsghdr, unix.SizeofIfInfomsg
	req := make([]byte, hdrLen+ifiLen) // the ifinfomsg is all zero: every family
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.RTM_GETLINK)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1) // sequence number
	var err error
	cerr := s.rc.Write(func(fd uintptr) bool {
		err = unix.Sendto(int(fd), req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return !errors.Is(err, unix.EAGAIN)
	})
	if err = errors.Join(cerr, err); err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	return nil
}

// readOnce is the read the poller calls, first and then each time the
// socket may be readable; false asks it to wait.
func (s *linkSub) readOnce(fd uintptr) bool {
	s.n, s.again, s.err = kernel.ReadNonblock(int(fd), s.buf)
	return !s.again
}

// next waits for the next messages and calls fn with each link change
// that want accepts, given the message type and the link's index and
// name. The other changes are not parsed further: most
// are state changes the caller ignores. An error message from the kernel,
// an interrupted dump or a lost message (ENOBUFS) is an error.
func (s *linkSub) next(want func(typ uint16, index int, name string) bool, fn func(typ uint16, link rtnl.Link)) error {
	if err := s.rc.Read(s.readFn); err != nil {
		return err
	}
	if s.err != nil {
		return s.err
	}
	msgs, err := syscall.ParseNetlinkMessage(s.buf[:s.n])
	if err != nil {
		return fmt.Errorf("parse link message: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Flags&unix.NLM_F_DUMP_INTR != 0 {
			return errDumpInterrupted
		}
		switch m.Header.Type {
		case unix.NLMSG_DONE:
		case unix.NLMSG_ERROR:
			if len(m.Data) < 4 {
				return errors.New("short netlink error message")
			}
			if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
				return fmt.Errorf("netlink error message: %w", syscall.Errno(-e))
			}
		case unix.RTM_NEWLINK, unix.RTM_DELLINK:
			if index, name, ok := linkID(m.Data); ok && !want(m.Header.Type, index, name) {
				continue
			}
			link, err := rtnl.ParseLink(m.Data)
			if err != nil {
				return fmt.Errorf("parse link message: %w", err)
			}
			fn(m.Header.Type, link)
		}
	}
	return nil
}

// linkID returns the index and name of the link in a link message's
// data (an ifinfomsg and attributes), without parsing the rest; false if
// the data is malformed. As rtnl.ParseLink, it takes the last name
// attribute (whatever its type's flag bits), up to its first NUL (the
// kernel ends it with one).
func linkID(data []byte) (index int, name string, ok bool) {
	if len(data) < unix.SizeofIfInfomsg {
		return 0, "", false
	}
	index = int(int32(binary.NativeEndian.Uint32(data[4:8])))
	var v []byte
	for b := data[unix.SizeofIfInfomsg:]; len(b) >= unix.SizeofRtAttr; {
		n := int(binary.NativeEndian.Uint16(b[0:2]))
		if n < unix.SizeofRtAttr || n > len(b) {
			return 0, "", false
		}
		if binary.NativeEndian.Uint16(b[2:4])&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER) == unix.IFLA_IFNAME {
			v = b[unix.SizeofRtAttr:n]
		}
		b = b[min(len(b), (n+unix.RTA_ALIGNTO-1)&^(unix.RTA_ALIGNTO-1)):]
	}
	if i := bytes.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	return index, string(v), true
}

// close closes the socket; a next that waits returns an error.
func (s *linkSub) close() { _ = s.f.Close() }
