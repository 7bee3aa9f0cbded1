package rtnl

import (
	"encoding/binary"
	"os"
	"runtime"
	"syscall"

	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// Conn is a route netlink socket in one network namespace. Its methods
// must not be called concurrently.
type Conn struct {
	fd  int
	seq uint32
	buf []byte // the receive buffer, made on first use
}

// Open opens a route netlink socket in the calling thread's network
// namespace.
func Open() (*Conn, error) {
	fd, err := kernel.RetryInt("socket", func() (int, error) {
		return unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	})
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	return &Conn{fd: fd}, nil
}

// OpenIn opens a route netlink socket in the network namespace ns (a
// namespace file descriptor): the socket keeps the namespace it was made
// in.
func OpenIn(ns int) (*Conn, error) {
	runtime.LockOSThread()
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, os.NewSyscallError("open", err)
	}
	defer unix.Close(self)
	if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, os.NewSyscallError("setns", err)
	}
	r, err := Open()
	if unix.Setns(self, unix.CLONE_NEWNET) != nil {
		return r, err // the thread stays locked and ends with its goroutine
	}
	runtime.UnlockOSThread()
	return r, err
}

// Close closes the socket.
func (r *Conn) Close() { unix.Close(r.fd) }

// attrs builds netlink attributes.
type attrs struct{ b []byte }

// add appends attribute typ with data.
func (a *attrs) add(typ uint16, data []byte) {
	n := 4 + len(data)
	a.b = binary.NativeEndian.AppendUint16(a.b, uint16(n))
	a.b = binary.NativeEndian.AppendUint16(a.b, typ)
	a.b = append(a.b, data...)
	for len(a.b)%4 != 0 {
		a.b = append(a.b, 0)
	}
}

func (a *attrs) str(typ uint16, s string) { a.add(typ, append([]byte(s), 0)) }

func (a *attrs) u32(typ uint16, v uint32) { a.add(typ, binary.NativeEndian.AppendUint32(nil, v)) }

// nest appends attribute typ holding the attributes inner writes, after
// head (an ifinfomsg for a veth peer).
func (a *attrs) nest(typ uint16, head []byte, inner func(*attrs)) {
	n := attrs{b: head}
	inner(&n)
	a.add(typ|unix.NLA_F_NESTED, n.b)
}

// ifinfomsg returns a struct ifinfomsg for link index with flags set
// under change.
func ifinfomsg(index int, flags, change uint32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(b[4:], uint32(int32(index)))
	binary.NativeEndian.PutUint32(b[8:], flags)
	binary.NativeEndian.PutUint32(b[12:], change)
	return b
}

// recvBufSize is a Conn's receive buffer: the kernel puts at most 32 KiB
// in one part of a dump, but a link's own message (with the details of
// many virtual functions) may be larger.
const recvBufSize = 64 << 10

// do sends a request of type typ with payload and returns the replies'
// payloads (every part of a dump), or the error the kernel acknowledged.
func (r *Conn) do(typ, flags uint16, payload []byte) ([][]byte, error) {
	r.seq++
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(payload))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(payload)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:], r.seq)
	msg = append(msg, payload...)
	if err := kernel.Retry("sendto", func() error {
		return unix.Sendto(r.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	}); err != nil {
		return nil, err
	}
	var out [][]byte
	if r.buf == nil {
		r.buf = make([]byte, recvBufSize)
	}
	for {
		n, err := kernel.RetryInt("recvfrom", func() (int, error) {
			n, _, err := unix.Recvfrom(r.fd, r.buf, 0)
			return n, err
		})
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(r.buf[:n])
		if err != nil {
			return nil, os.NewSyscallError("netlink", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != r.seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return nil, os.NewSyscallError("netlink", unix.EBADMSG)
				}
				if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
					return nil, unix.Errno(-e)
				}
				return out, nil // the ack
			case unix.NLMSG_DONE:
				return out, nil
			default:
				out = append(out, append([]byte(nil), m.Data...))
			}
		}
	}
}

// attr is one parsed netlink attribute.
type attr struct {
	typ  uint16
	data []byte
}

// parseAttrs splits b into attributes (the nested flag cleared).
func parseAttrs(b []byte) ([]attr, error) {
	var out []attr
	for len(b) >= 4 {
		n := int(binary.NativeEndian.Uint16(b))
		if n < 4 || n > len(b) {
			return nil, os.NewSyscallError("netlink", unix.EBADMSG)
		}
		out = append(out, attr{binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER), b[4:n]})
		b = b[min((n+3)&^3, len(b)):]
	}
	return out, nil
}

// cstring is b up to its first NUL.
func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
