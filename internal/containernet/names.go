package containernet

import (
	"encoding/binary"
)

// Hash keys of systemd-nspawn (src/nspawn/nspawn-network.c, v252), so
// berth derives the same names and MAC addresses as nspawn.
var (
	hostHashKey               = [16]byte{0x1a, 0x37, 0x6f, 0xc7, 0x46, 0xec, 0x45, 0x0b, 0xad, 0xa3, 0xd5, 0x31, 0x06, 0x60, 0x5d, 0xb1}
	containerHashKey          = [16]byte{0xc3, 0xc4, 0xf9, 0x19, 0xb5, 0x57, 0xb2, 0x1c, 0xe6, 0xcf, 0x14, 0x27, 0x03, 0x9c, 0xee, 0xa2}
	vethExtraHostHashKey      = [16]byte{0x48, 0xc7, 0xf6, 0xb7, 0xea, 0x9d, 0x4c, 0x9e, 0xb7, 0x28, 0xd4, 0xde, 0x91, 0xd5, 0xbf, 0x66}
	vethExtraContainerHashKey = [16]byte{0xaf, 0x50, 0x17, 0x61, 0xce, 0xf9, 0x4d, 0x35, 0x84, 0x0d, 0x2b, 0x20, 0x54, 0xbe, 0xce, 0x59}
	shortenIfnameHashKey      = [16]byte{0xe1, 0x90, 0xa4, 0x04, 0xa8, 0xef, 0x4b, 0x51, 0x8c, 0xcc, 0xc3, 0x3a, 0x9f, 0x11, 0xfc, 0xa2}
)

// ifNameSize is the kernel's IFNAMSIZ, the terminating NUL included.
const ifNameSize = 16

// Prefixes of the host side of a container's veth.
const (
	PrefixVeth   = "ve-"
	PrefixBridge = "vb-"
	PrefixZone   = "vz-"
)

// ContainerIfName is the container side of the main veth.
const ContainerIfName = "host0"

// HostIfName returns the host-side link name prefix+machine, shortened as
// nspawn's net_shorten_ifname does when it does not fit an interface
// name: the first 11 characters and 4 URL-safe base64 characters of a
// SipHash of the full name. alt is then the full name, to be added as an
// alternative name, and empty otherwise.
func HostIfName(prefix, machine string) (name, alt string) {
	full := prefix + machine
	if len(full) < ifNameSize {
		return full, ""
	}
	return ShortenIfName(full), full
}

// ShortenIfName shortens a name of 16 or more characters to 15.
func ShortenIfName(full string) string {
	const table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(full) < ifNameSize {
		return full
	}
	h := siphash24([]byte(full), shortenIfnameHashKey)
	b := []byte(full[:ifNameSize-5])
	for i := 3; i >= 0; i-- {
		b = append(b, table[(h>>(6*i))&63])
	}
	return string(b)
}

// MAC returns nspawn's stable MAC address for machine: SipHash-2-4 of the
// host's machine ID, the machine name and (when idx > 0) idx as 64-bit
// little-endian, under key; the first six bytes of the little-endian
// result, made unicast and locally administered.
func MAC(hostID [16]byte, machine string, key [16]byte, idx uint64) []byte {
	data := append(hostID[:], machine...)
	if idx > 0 {
		data = binary.LittleEndian.AppendUint64(data, idx)
	}
	var sum [8]byte
	binary.LittleEndian.PutUint64(sum[:], siphash24(data, key))
	mac := sum[:6]
	mac[0] = mac[0]&0xfe | 0x02
	return mac
}
