//go:build !linux

package dhcpserver

import (
	"errors"
	"net"
)

// ListenLink is only implemented on Linux.
func ListenLink(ifname string) (net.PacketConn, error) {
	return nil, errors.New("listen dhcp: not supported on this system")
}
