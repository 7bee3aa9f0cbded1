package containernet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// The spawner talks route netlink itself for the few link operations it
// needs (create a veth or bridge, look a link up, rename, enslave, bring
// up, move, delete), instead of linking a general netlink library and,
// with it, the net package: their start-up cost every berth-nspawn
// process, with or without a network.

// vethInfoPeer is the veth peer's attribute (linux/veth.h VETH_INFO_PEER).
const vethInfoPeer = 1

// rtextFilterVF asks for the virtual functions' details (linux/rtnetlink.h
// RTEXT_FILTER_VF), as the netlink library asked.
const rtextFilterVF = 1

// errLinkNotFound is returned by linkByName for a name no link has.
var errLinkNotFound = errors.New("link not found")

// link is what the spawner needs to know of a network link.
type link struct {
	index, master int
	name, kind    string
}

// rtnl is a route netlink socket in one network namespace.
type rtnl struct {
	fd  int
	seq uint32
}

// openRTNL opens a route netlink socket in the caller's network namespace.
func openRTNL() (*rtnl, error) {
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
	return &rtnl{fd: fd}, nil
}

// openRTNLIn opens a route netlink socket in the network namespace ns (a
// namespace file descriptor): the socket keeps the namespace it was made
// in.
func openRTNLIn(ns int) (*rtnl, error) {
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
	r, err := openRTNL()
	if unix.Setns(self, unix.CLONE_NEWNET) != nil {
		return r, err // the thread stays locked and ends with its goroutine
	}
	runtime.UnlockOSThread()
	return r, err
}

func (r *rtnl) close() { unix.Close(r.fd) }

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

// do sends a request of type typ with payload and returns the replies'
// payloads (every part of a dump), or the error the kernel acknowledged.
func (r *rtnl) do(typ, flags uint16, payload []byte) ([][]byte, error) {
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
	buf := make([]byte, 64<<10)
	for {
		n, err := kernel.RetryInt("recvfrom", func() (int, error) {
			n, _, err := unix.Recvfrom(r.fd, buf, 0)
			return n, err
		})
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
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

// parseLink reads an RTM_NEWLINK payload.
func parseLink(b []byte) (link, error) {
	if len(b) < unix.SizeofIfInfomsg {
		return link{}, os.NewSyscallError("netlink", unix.EBADMSG)
	}
	l := link{index: int(int32(binary.NativeEndian.Uint32(b[4:])))}
	as, err := parseAttrs(b[unix.SizeofIfInfomsg:])
	if err != nil {
		return link{}, err
	}
	for _, a := range as {
		switch a.typ {
		case unix.IFLA_IFNAME:
			l.name = cstring(a.data)
		case unix.IFLA_MASTER:
			if len(a.data) >= 4 {
				l.master = int(binary.NativeEndian.Uint32(a.data))
			}
		case unix.IFLA_LINKINFO:
			info, err := parseAttrs(a.data)
			if err != nil {
				return link{}, err
			}
			for _, i := range info {
				if i.typ == unix.IFLA_INFO_KIND {
					l.kind = cstring(i.data)
				}
			}
		}
	}
	return l, nil
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

// linkByName looks a link up by name (by altname for names longer than
// IFNAMSIZ-1); errLinkNotFound if there is none.
func (r *rtnl) linkByName(name string) (link, error) {
	a := attrs{b: ifinfomsg(0, 0, 0)}
	a.u32(unix.IFLA_EXT_MASK, rtextFilterVF)
	if len(name) > unix.IFNAMSIZ-1 {
		a.str(unix.IFLA_ALT_IFNAME, name)
	} else {
		a.str(unix.IFLA_IFNAME, name)
	}
	replies, err := r.do(unix.RTM_GETLINK, 0, a.b)
	if errors.Is(err, unix.ENODEV) || err == nil && len(replies) == 0 {
		return link{}, fmt.Errorf("%s: %w", name, errLinkNotFound)
	}
	if err != nil {
		return link{}, err
	}
	return parseLink(replies[0])
}

// links lists every link.
func (r *rtnl) links() ([]link, error) {
	replies, err := r.do(unix.RTM_GETLINK, unix.NLM_F_DUMP, ifinfomsg(0, 0, 0))
	if err != nil {
		return nil, err
	}
	out := make([]link, 0, len(replies))
	for _, p := range replies {
		l, err := parseLink(p)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// addVeth creates a veth pair: host in this namespace, peer in the
// network namespace of process peerPID, and returns the host side's
// index. As before with the netlink library, both sides get a transmit
// queue length of 0. The request asks the kernel to echo the new link
// (NLM_F_ECHO, honoured for new links since Linux 6.3), which saves the
// caller a lookup; an older kernel answers with the acknowledgement
// alone, and the index returned is 0.
func (r *rtnl) addVeth(host string, hostMAC []byte, peer string, peerMAC []byte, peerPID int) (int, error) {
	a := attrs{b: ifinfomsg(0, 0, 0)}
	a.str(unix.IFLA_IFNAME, host)
	a.u32(unix.IFLA_TXQLEN, 0)
	a.add(unix.IFLA_ADDRESS, hostMAC)
	a.nest(unix.IFLA_LINKINFO, nil, func(info *attrs) {
		info.add(unix.IFLA_INFO_KIND, []byte("veth"))
		info.nest(unix.IFLA_INFO_DATA, nil, func(data *attrs) {
			data.nest(vethInfoPeer, ifinfomsg(0, 0, 0), func(p *attrs) {
				p.str(unix.IFLA_IFNAME, peer)
				p.u32(unix.IFLA_TXQLEN, 0)
				p.add(unix.IFLA_ADDRESS, peerMAC)
				p.u32(unix.IFLA_NET_NS_PID, uint32(peerPID))
			})
		})
	})
	replies, err := r.do(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ECHO, a.b)
	if err != nil {
		return 0, err
	}
	for _, p := range replies {
		if l, err := parseLink(p); err == nil && l.name == host && l.index > 0 {
			return l.index, nil
		}
	}
	return 0, nil
}

// addBridge creates a bridge.
func (r *rtnl) addBridge(name string) error {
	a := attrs{b: ifinfomsg(0, 0, 0)}
	a.str(unix.IFLA_IFNAME, name)
	a.u32(unix.IFLA_TXQLEN, 0)
	a.nest(unix.IFLA_LINKINFO, nil, func(info *attrs) {
		info.add(unix.IFLA_INFO_KIND, []byte("bridge"))
		info.nest(unix.IFLA_INFO_DATA, nil, func(*attrs) {})
	})
	_, err := r.do(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, a.b)
	return err
}

// setLink sends typ for link index with the attribute one adds.
func (r *rtnl) setLink(typ uint16, index int, one func(*attrs)) error {
	a := attrs{b: ifinfomsg(index, 0, 0)}
	one(&a)
	_, err := r.do(typ, 0, a.b)
	return err
}

func (r *rtnl) setUp(index int) error {
	_, err := r.do(unix.RTM_NEWLINK, 0, ifinfomsg(index, unix.IFF_UP, unix.IFF_UP))
	return err
}

func (r *rtnl) setMaster(index, master int) error {
	return r.setLink(unix.RTM_SETLINK, index, func(a *attrs) { a.u32(unix.IFLA_MASTER, uint32(master)) })
}

// setNsPid moves the link into the network namespace of process pid.
func (r *rtnl) setNsPid(index, pid int) error {
	return r.setLink(unix.RTM_SETLINK, index, func(a *attrs) { a.u32(unix.IFLA_NET_NS_PID, uint32(pid)) })
}

// setNsFd moves the link into the network namespace ns (a file
// descriptor).
func (r *rtnl) setNsFd(index, ns int) error {
	return r.setLink(unix.RTM_SETLINK, index, func(a *attrs) { a.u32(unix.IFLA_NET_NS_FD, uint32(ns)) })
}

// addAltName gives the link an alternative name.
func (r *rtnl) addAltName(index int, alt string) error {
	return r.setLink(unix.RTM_NEWLINKPROP, index, func(a *attrs) {
		a.nest(unix.IFLA_PROP_LIST, nil, func(p *attrs) { p.str(unix.IFLA_ALT_IFNAME, alt) })
	})
}

func (r *rtnl) delLink(index int) error {
	_, err := r.do(unix.RTM_DELLINK, 0, ifinfomsg(index, 0, 0))
	return err
}
