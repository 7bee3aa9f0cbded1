package dhcpserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Client and server UDP ports.
const (
	ClientPort = 68
	ServerPort = 67
)

// Serve answers requests read from conn until conn is closed, then saves
// the lease file one last time. Lease file writes happen in the
// background, at most one per Config.SaveDelay (see saver).
func (s *Server) Serve(conn net.PacketConn) error {
	stop := make(chan struct{})
	done := make(chan struct{})
	go s.saver(stop, done)
	defer func() {
		close(stop)
		<-done
	}()
	buf := make([]byte, maxPacket+1)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("dhcp serve: %w", err)
		}
		reply, dst := s.HandlePacket(buf[:n])
		if reply == nil {
			continue
		}
		if _, err := conn.WriteTo(reply, dst); err != nil {
			s.stats.sendErrors.Add(1)
			s.log.Printf("dhcp reply to %v not sent: %v", dst, err)
		}
	}
}

// saver writes the lease file when the table changed: at once for the
// first change after a quiet SaveDelay, so a new binding reaches the disk
// before a crash can lose it, and at most once per SaveDelay while changes
// keep coming (a change during the pause is written after it). It writes
// once more when stop closes.
func (s *Server) saver(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-stop:
			s.saveLogged()
			return
		case <-s.dirty:
		}
		s.saveLogged()
		select {
		case <-stop:
			s.saveLogged()
			return
		case <-time.After(s.cfg.SaveDelay):
		}
	}
}

func (s *Server) saveLogged() {
	if err := s.Save(); err != nil {
		s.log.Printf("lease file not saved: %v", err)
	}
}

// HandlePacket checks, rate-limits, decodes and answers one raw request.
// It returns the encoded reply and where to send it, or nil. It never
// panics: a panic while handling is recovered and counted.
func (s *Server) HandlePacket(b []byte) (reply []byte, dst *net.UDPAddr) {
	defer func() {
		if r := recover(); r != nil {
			s.stats.panics.Add(1)
			s.log.Printf("dhcp packet handler panicked: %v", r)
			reply, dst = nil, nil
		}
	}()
	s.stats.received.Add(1)
	if check(b) != nil {
		s.stats.malformed.Add(1)
		return nil, nil
	}
	if now := s.cfg.Now(); !s.limit.allow(b[28:34], now) && !s.table.HoldsHW(net.HardwareAddr(b[28:34]).String(), now) {
		s.stats.rateLimited.Add(1) // clients holding a lease pass, so a flood cannot stop renewals
		return nil, nil
	}
	if !s.relayAllowed(b[24:28]) {
		s.stats.relayed.Add(1)
		return nil, nil
	}
	req, err := dhcpv4.FromBytes(b)
	if err != nil {
		s.stats.malformed.Add(1)
		return nil, nil
	}
	resp := NewReply(req)
	if !s.Handle(req, resp) {
		return nil, nil
	}
	return resp.ToBytes(), destination(req, resp)
}

// relayAllowed reports whether a packet with this giaddr may be answered:
// not relayed, or relayed from the link with AcceptLinkRelays.
func (s *Server) relayAllowed(giaddr []byte) bool {
	gi := netip.AddrFrom4([4]byte(giaddr))
	if gi.IsUnspecified() {
		return true
	}
	return s.cfg.AcceptLinkRelays && s.cfg.Prefix.Contains(gi) && gi != s.cfg.ServerAddr
}

// destination follows RFC 2131 4.1 for a server on the client's link that
// cannot unicast to an address the client does not have yet: a relayed
// request is answered to its relay, a NAK is broadcast, a client with an
// address gets unicast, all else is broadcast.
func destination(req, resp *dhcpv4.DHCPv4) *net.UDPAddr {
	if gi, ok := ipv4(req.GatewayIPAddr); ok {
		return &net.UDPAddr{IP: gi.AsSlice(), Port: ServerPort}
	}
	if resp.MessageType() != dhcpv4.MessageTypeNak {
		if ci, ok := ipv4(req.ClientIPAddr); ok {
			return &net.UDPAddr{IP: ci.AsSlice(), Port: ClientPort}
		}
	}
	return &net.UDPAddr{IP: net.IPv4bcast, Port: ClientPort}
}
