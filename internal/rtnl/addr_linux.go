package rtnl

import (
	"encoding/binary"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// Prefix is an IP address with a prefix length (not masked): IP is 4
// bytes for IPv4, 16 for IPv6. The package works without net/netip, whose
// start-up berth-nspawn would pay.
type Prefix struct {
	IP   []byte
	Bits int
}

// Is4 reports whether p is IPv4.
func (p Prefix) Is4() bool { return len(p.IP) == 4 }

// Addr is one address of a link.
type Addr struct {
	Prefix
	// Index is the link's.
	Index int
	// Flags are the address's IFA_F_* flags; Scope its RT_SCOPE_*.
	Flags uint32
	Scope uint8
}

// Addrs lists the addresses of every link, of one family (unix.AF_INET,
// unix.AF_INET6) or all (unix.AF_UNSPEC).
func (r *Conn) Addrs(family int) ([]Addr, error) {
	replies, err := r.do(unix.RTM_GETADDR, unix.NLM_F_DUMP, ifaddrmsg(family, 0, 0, 0))
	if err != nil {
		return nil, err
	}
	out := make([]Addr, 0, len(replies))
	for _, p := range replies {
		a, ok, err := parseAddr(p)
		if err != nil {
			return nil, err
		}
		if ok && (family == unix.AF_UNSPEC || a.Is4() == (family == unix.AF_INET)) {
			out = append(out, a)
		}
	}
	return out, nil
}

// parseAddr reads an RTM_NEWADDR payload; ok is false for an address of
// another family than IPv4 and IPv6. An IPv4 address is its IFA_LOCAL
// (IFA_ADDRESS is the peer's on a point-to-point link), an IPv6 address
// its IFA_ADDRESS.
func parseAddr(b []byte) (a Addr, ok bool, err error) {
	if len(b) < unix.SizeofIfAddrmsg {
		return Addr{}, false, os.NewSyscallError("netlink", unix.EBADMSG)
	}
	family, bits := int(b[0]), int(b[1])
	a = Addr{Flags: uint32(b[2]), Scope: b[3], Index: int(binary.NativeEndian.Uint32(b[4:]))}
	as, err := parseAttrs(b[unix.SizeofIfAddrmsg:])
	if err != nil {
		return Addr{}, false, err
	}
	var local, address []byte
	for _, at := range as {
		switch at.typ {
		case unix.IFA_LOCAL:
			local = at.data
		case unix.IFA_ADDRESS:
			address = at.data
		case unix.IFA_FLAGS:
			if len(at.data) >= 4 {
				a.Flags = binary.NativeEndian.Uint32(at.data)
			}
		}
	}
	ip := address
	if family == unix.AF_INET && local != nil {
		ip = local
	}
	switch {
	case family == unix.AF_INET && len(ip) == 4 && bits <= 32,
		family == unix.AF_INET6 && len(ip) == 16 && bits <= 128:
		a.Prefix = Prefix{IP: slices.Clone(ip), Bits: bits}
		return a, true, nil
	}
	return Addr{}, false, nil
}

// AddAddr adds the address p (with its prefix length) to link index,
// with IFA_F_* flags; an IPv4 address shorter than /31 gets its subnet's
// broadcast address, as `ip address add ... brd +` gives.
func (r *Conn) AddAddr(index int, p Prefix, flags uint32) error {
	return r.addAddr(index, p, flags, unix.NLM_F_CREATE|unix.NLM_F_EXCL)
}

// ReplaceAddr adds the address p to link index, or updates it (its
// flags) if the link has it.
func (r *Conn) ReplaceAddr(index int, p Prefix, flags uint32) error {
	return r.addAddr(index, p, flags, unix.NLM_F_CREATE|unix.NLM_F_REPLACE)
}

func (r *Conn) addAddr(index int, p Prefix, flags uint32, how uint16) error {
	if !p.valid() {
		return os.NewSyscallError("netlink", unix.EINVAL)
	}
	a := addrAttrs(index, p, flags)
	if p.Is4() && p.Bits < 31 {
		a.add(unix.IFA_BROADCAST, broadcast(p))
	}
	_, err := r.do(unix.RTM_NEWADDR, how, a.b)
	return err
}

// DelAddr removes the address p from link index.
func (r *Conn) DelAddr(index int, p Prefix) error {
	if !p.valid() {
		return os.NewSyscallError("netlink", unix.EINVAL)
	}
	_, err := r.do(unix.RTM_DELADDR, 0, addrAttrs(index, p, 0).b)
	return err
}

// addrAttrs is the ifaddrmsg and address attributes of p on link index.
func addrAttrs(index int, p Prefix, flags uint32) attrs {
	family := unix.AF_INET6
	if p.Is4() {
		family = unix.AF_INET
	}
	a := attrs{b: ifaddrmsg(family, p.Bits, flags, index)}
	a.add(unix.IFA_LOCAL, p.IP)
	a.add(unix.IFA_ADDRESS, p.IP)
	if flags > 0xff {
		a.u32(unix.IFA_FLAGS, flags)
	}
	return a
}

// ifaddrmsg returns a struct ifaddrmsg (flags beyond 8 bits go in an
// IFA_FLAGS attribute).
func ifaddrmsg(family, bits int, flags uint32, index int) []byte {
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0], b[1], b[2] = byte(family), byte(bits), byte(flags)
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	return b
}

// valid reports whether p is an IPv4 or IPv6 address with a prefix
// length that fits it.
func (p Prefix) valid() bool {
	return len(p.IP) == 4 && p.Bits >= 0 && p.Bits <= 32 || len(p.IP) == 16 && p.Bits >= 0 && p.Bits <= 128
}

// broadcast is the last address of the IPv4 prefix p.
func broadcast(p Prefix) []byte {
	v := binary.BigEndian.Uint32(p.IP) | ^uint32(0)>>p.Bits
	return binary.BigEndian.AppendUint32(nil, v)
}
