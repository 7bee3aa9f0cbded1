package rtnl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// vethInfoPeer is the veth peer's attribute (linux/veth.h VETH_INFO_PEER).
const vethInfoPeer = 1

// rtextFilterVF asks for the virtual functions' details (linux/rtnetlink.h
// RTEXT_FILTER_VF), as the netlink library asked.
const rtextFilterVF = 1

// ErrLinkNotFound is returned for a link no name or index has.
var ErrLinkNotFound = errors.New("link not found")

// Link is what berth needs to know of a network link.
type Link struct {
	Index, Master, MTU int
	// Flags are the link's IFF_* flags.
	Flags uint32
	// Kind is the link's type ("veth", "bridge"), "" for a device.
	Name, Kind   string
	HardwareAddr []byte
}

// ParseLink reads an RTM_NEWLINK or RTM_DELLINK payload (an ifinfomsg and
// attributes). The Link shares no memory with b; of repeated
// attributes the last counts.
func ParseLink(b []byte) (Link, error) {
	if len(b) < unix.SizeofIfInfomsg {
		return Link{}, os.NewSyscallError("netlink", unix.EBADMSG)
	}
	l := Link{Index: int(int32(binary.NativeEndian.Uint32(b[4:]))), Flags: binary.NativeEndian.Uint32(b[8:])}
	as, err := parseAttrs(b[unix.SizeofIfInfomsg:])
	if err != nil {
		return Link{}, err
	}
	for _, a := range as {
		switch a.typ {
		case unix.IFLA_IFNAME:
			l.Name = cstring(a.data)
		case unix.IFLA_MASTER:
			l.Master = int(u32(a.data))
		case unix.IFLA_MTU:
			l.MTU = int(u32(a.data))
		case unix.IFLA_ADDRESS:
			l.HardwareAddr = slices.Clone(a.data)
		case unix.IFLA_LINKINFO:
			info, err := parseAttrs(a.data)
			if err != nil {
				return Link{}, err
			}
			for _, i := range info {
				if i.typ == unix.IFLA_INFO_KIND {
					l.Kind = cstring(i.data)
				}
			}
		}
	}
	return l, nil
}

// u32 reads a native-endian uint32 attribute; 0 if it is short.
func u32(b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	return binary.NativeEndian.Uint32(b)
}

// LinkByName looks a link up by name (by altname for names longer than
// IFNAMSIZ-1); ErrLinkNotFound if there is none.
func (r *Conn) LinkByName(name string) (Link, error) {
	a := attrs{b: ifinfomsg(0, 0, 0)}
	a.u32(unix.IFLA_EXT_MASK, rtextFilterVF)
	if len(name) > unix.IFNAMSIZ-1 {
		a.str(unix.IFLA_ALT_IFNAME, name)
	} else {
		a.str(unix.IFLA_IFNAME, name)
	}
	return r.getLink(name, a.b)
}

// LinkByIndex looks a link up by index; ErrLinkNotFound if there is none.
func (r *Conn) LinkByIndex(index int) (Link, error) {
	a := attrs{b: ifinfomsg(index, 0, 0)}
	a.u32(unix.IFLA_EXT_MASK, rtextFilterVF)
	return r.getLink(fmt.Sprintf("index %d", index), a.b)
}

// getLink sends the RTM_GETLINK request req for the link called what.
func (r *Conn) getLink(what string, req []byte) (Link, error) {
	replies, err := r.do(unix.RTM_GETLINK, 0, req)
	if errors.Is(err, unix.ENODEV) || err == nil && len(replies) == 0 {
		return Link{}, fmt.Errorf("%s: %w", what, ErrLinkNotFound)
	}
	if err != nil {
		return Link{}, err
	}
	return ParseLink(replies[0])
}

// Links lists every link.
func (r *Conn) Links() ([]Link, error) {
	replies, err := r.do(unix.RTM_GETLINK, unix.NLM_F_DUMP, ifinfomsg(0, 0, 0))
	if err != nil {
		return nil, err
	}
	out := make([]Link, 0, len(replies))
	for _, p := range replies {
		l, err := ParseLink(p)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// AddVeth creates a veth pair: host in this namespace, peer in the
// network namespace of process peerPID, and returns the host side's
// index. As before with the netlink library, both sides get a transmit
// queue length of 0. The request asks the kernel to echo the new link
// (NLM_F_ECHO, honoured for new links since Linux 6.3), which saves the
// caller a lookup; an older kernel answers with the acknowledgement
// alone, and the index returned is 0.
func (r *Conn) AddVeth(host string, hostMAC []byte, peer string, peerMAC []byte, peerPID int) (int, error) {
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
		if l, err := ParseLink(p); err == nil && l.Name == host && l.Index > 0 {
			return l.Index, nil
		}
	}
	return 0, nil
}

// AddBridge creates a bridge.
func (r *Conn) AddBridge(name string) error {
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
func (r *Conn) setLink(typ uint16, index int, one func(*attrs)) error {
	a := attrs{b: ifinfomsg(index, 0, 0)}
	one(&a)
	_, err := r.do(typ, 0, a.b)
	return err
}

// SetUp brings the link up.
func (r *Conn) SetUp(index int) error {
	_, err := r.do(unix.RTM_NEWLINK, 0, ifinfomsg(index, unix.IFF_UP, unix.IFF_UP))
	return err
}

// SetMaster enslaves the link to master (a bridge).
func (r *Conn) SetMaster(index, master int) error {
	return r.setLink(unix.RTM_SETLINK, index, func(a *attrs) { a.u32(unix.IFLA_MASTER, uint32(master)) })
}

// SetNsPid moves the link into the network namespace of process pid.
func (r *Conn) SetNsPid(index, pid int) error {
	return r.setLink(unix.RTM_SETLINK, index, func(a *attrs) { a.u32(unix.IFLA_NET_NS_PID, uint32(pid)) })
}

// SetNsFd moves the link into the network namespace ns (a file
// descriptor).
func (r *Conn) SetNsFd(index, ns int) error {
	return r.setLink(unix.RTM_SETLINK, index, func(a *attrs) { a.u32(unix.IFLA_NET_NS_FD, uint32(ns)) })
}

// AddAltName gives the link an alternative name.
func (r *Conn) AddAltName(index int, alt string) error {
	return r.setLink(unix.RTM_NEWLINKPROP, index, func(a *attrs) {
		a.nest(unix.IFLA_PROP_LIST, nil, func(p *attrs) { p.str(unix.IFLA_ALT_IFNAME, alt) })
	})
}

// DelLink deletes the link.
func (r *Conn) DelLink(index int) error {
	_, err := r.do(unix.RTM_DELLINK, 0, ifinfomsg(index, 0, 0))
	return err
}
