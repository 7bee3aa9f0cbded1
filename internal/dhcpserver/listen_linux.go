package dhcpserver

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// receiveBuffer is the socket receive buffer ListenLink asks for, so that
// bursts survive a moment without the CPU.
const receiveBuffer = 2 << 20

// ListenLink opens a UDP socket on port 67 bound to the link ifname
// (SO_BINDTODEVICE) with broadcast allowed and a large receive buffer, for
// Serve. Several links may each have one. Reads and writes are blocking
// system calls on the caller of ReadFrom and WriteTo. It needs
// CAP_NET_BIND_SERVICE and CAP_NET_RAW (and CAP_NET_ADMIN for the full
// buffer), and works in the calling thread's network namespace.
func ListenLink(ifname string) (net.PacketConn, error) {
	fd, err := kernel.RetryInt("socket", func() (int, error) {
		return unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	})
	if err != nil {
		return nil, fmt.Errorf("listen dhcp on %s: %w", ifname, err)
	}
	err = linkSockopts(fd, ifname)
	if err == nil {
		err = kernel.Retry("bind", func() error { return unix.Bind(fd, &unix.SockaddrInet4{Port: ServerPort}) })
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen dhcp on %s: %w", ifname, err)
	}
	return &linkConn{fd: fd, local: &net.UDPAddr{IP: net.IPv4zero, Port: ServerPort}}, nil
}

func linkSockopts(fd int, ifname string) error {
	if err := kernel.Retry("setsockopt SO_BINDTODEVICE", func() error {
		return unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname)
	}); err != nil {
		return err
	}
	for _, opt := range []int{unix.SO_REUSEADDR, unix.SO_BROADCAST} {
		if err := kernel.Retry("setsockopt", func() error {
			return unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, 1)
		}); err != nil {
			return err
		}
	}
	err := kernel.Retry("setsockopt SO_RCVBUFFORCE", func() error {
		return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, receiveBuffer)
	})
	if err != nil { // without CAP_NET_ADMIN, up to net.core.rmem_max
		return kernel.Retry("setsockopt SO_RCVBUF", func() error {
			return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, receiveBuffer)
		})
	}
	return nil
}
