package rtnl

import (
	"encoding/binary"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// RouteDsts4 lists the destinations of the IPv4 routes of every table,
// as prefixes; routes to everywhere (no destination) and cloned routes
// (the kernel's cache) are left out.
func (r *Conn) RouteDsts4() ([]Prefix, error) {
	req := make([]byte, unix.SizeofRtMsg)
	req[0] = unix.AF_INET
	replies, err := r.do(unix.RTM_GETROUTE, unix.NLM_F_DUMP, req)
	if err != nil {
		return nil, err
	}
	var out []Prefix
	for _, p := range replies {
		dst, ok, err := parseRouteDst4(p)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, dst)
		}
	}
	return out, nil
}

// parseRouteDst4 reads an RTM_NEWROUTE payload: the destination of an
// IPv4 route that has one and is not cloned.
func parseRouteDst4(b []byte) (Prefix, bool, error) {
	if len(b) < unix.SizeofRtMsg {
		return Prefix{}, false, os.NewSyscallError("netlink", unix.EBADMSG)
	}
	as, err := parseAttrs(b[unix.SizeofRtMsg:])
	if err != nil {
		return Prefix{}, false, err
	}
	if b[0] != unix.AF_INET || binary.NativeEndian.Uint32(b[8:])&unix.RTM_F_CLONED != 0 {
		return Prefix{}, false, nil
	}
	for _, a := range as {
		if a.typ == unix.RTA_DST && len(a.data) == 4 && b[1] <= 32 {
			return Prefix{IP: slices.Clone(a.data), Bits: int(b[1])}, true, nil
		}
	}
	return Prefix{}, false, nil
}
