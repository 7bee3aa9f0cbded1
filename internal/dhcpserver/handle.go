package dhcpserver

import (
	"encoding/hex"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/berth-dev/berth/internal/leases"
	"github.com/berth-dev/berth/internal/names"
)

// NewReply returns the skeleton of a reply to req: BOOTREPLY with req's
// transaction id, flags and hardware address, and its client identifier
// copied (RFC 6842).
func NewReply(req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	resp := &dhcpv4.DHCPv4{
		OpCode:         dhcpv4.OpcodeBootReply,
		HWType:         req.HWType,
		TransactionID:  req.TransactionID,
		Flags:          req.Flags,
		ClientHWAddr:   req.ClientHWAddr,
		ClientIPAddr:   net.IPv4zero,
		YourIPAddr:     net.IPv4zero,
		ServerIPAddr:   net.IPv4zero,
		GatewayIPAddr:  req.GatewayIPAddr,
		Options:        dhcpv4.Options{},
		ServerHostName: "",
	}
	if id := req.GetOneOption(dhcpv4.OptionClientIdentifier); id != nil {
		resp.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientIdentifier, id))
	}
	return resp
}

// Handle answers req by filling resp (made by NewReply) and reports whether
// resp should be sent. It changes the lease table for REQUEST, RELEASE and
// DECLINE.
func (s *Server) Handle(req, resp *dhcpv4.DHCPv4) bool {
	now := s.cfg.Now()
	client := ClientKey(req)
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		return s.discover(req, resp, client, now)
	case dhcpv4.MessageTypeRequest:
		return s.request(req, resp, client, now)
	case dhcpv4.MessageTypeRelease:
		s.release(req, client)
	case dhcpv4.MessageTypeDecline:
		s.decline(req, client, now)
	case dhcpv4.MessageTypeInform:
		return s.inform(req, resp)
	}
	return false
}

// ClientKey identifies the client of req: "id-" and its client identifier
// in hex, or "hw-" and its hardware address in hex.
func ClientKey(req *dhcpv4.DHCPv4) string {
	if id := req.GetOneOption(dhcpv4.OptionClientIdentifier); len(id) > 0 {
		return "id-" + hex.EncodeToString(id)
	}
	return "hw-" + hex.EncodeToString(req.ClientHWAddr)
}

func (s *Server) discover(req, resp *dhcpv4.DHCPv4, client string, now time.Time) bool {
	addr, ok := s.table.PickAvoiding(client, now, s.recent.avoider(client, now))
	if _, had := s.table.Lookup(client); !had {
		if want, valid := ipv4(req.RequestedIPAddress()); valid && s.table.Available(client, want, now) {
			addr, ok = want, true
		}
	}
	if !ok {
		s.logPoolFull(client, now)
		return false
	}
	s.recent.record(addr, client, now)
	s.fill(req, resp, dhcpv4.MessageTypeOffer, addr)
	s.stats.offers.Add(1)
	return true
}

func (s *Server) request(req, resp *dhcpv4.DHCPv4, client string, now time.Time) bool {
	if id, ok := ipv4(req.ServerIdentifier()); ok && id != s.cfg.ServerAddr {
		return false // the client chose another server
	}
	addr, ok := ipv4(req.RequestedIPAddress())
	if !ok {
		addr, ok = ipv4(req.ClientIPAddr)
	}
	if !ok {
		return false
	}
	l := leases.Lease{
		ClientID: client,
		HWAddr:   req.ClientHWAddr.String(),
		Addr:     addr,
		Hostname: hostname(req),
		Expiry:   now.Add(s.leaseTime(req)),
	}
	if err := s.table.Bind(l, now); err != nil {
		s.nak(resp)
		s.log.Printf("request of %s for %v refused: %v", client, addr, err)
		return true
	}
	s.markDirty()
	s.fill(req, resp, dhcpv4.MessageTypeAck, addr)
	s.stats.acks.Add(1)
	return true
}

func (s *Server) release(req *dhcpv4.DHCPv4, client string) {
	addr, ok := ipv4(req.ClientIPAddr)
	if ok && s.table.Release(client, addr) {
		s.stats.releases.Add(1)
		s.markDirty()
	}
}

func (s *Server) decline(req *dhcpv4.DHCPv4, client string, now time.Time) {
	addr, ok := ipv4(req.RequestedIPAddress())
	if ok && s.table.Decline(client, addr, now.Add(declineHold)) {
		s.stats.declines.Add(1)
		s.log.Printf("address %v declined by %s", addr, client)
		s.markDirty()
	}
}

func (s *Server) inform(req, resp *dhcpv4.DHCPv4) bool {
	if _, ok := ipv4(req.ClientIPAddr); !ok {
		return false
	}
	s.fill(req, resp, dhcpv4.MessageTypeAck, netip.Addr{})
	resp.ClientIPAddr = req.ClientIPAddr
	resp.Options.Del(dhcpv4.OptionIPAddressLeaseTime)
	resp.Options.Del(dhcpv4.OptionRenewTimeValue)
	resp.Options.Del(dhcpv4.OptionRebindingTimeValue)
	s.stats.informs.Add(1)
	return true
}

func (s *Server) nak(resp *dhcpv4.DHCPv4) {
	resp.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeNak))
	resp.UpdateOption(dhcpv4.OptServerIdentifier(s.cfg.ServerAddr.AsSlice()))
	resp.SetBroadcast()
	s.stats.naks.Add(1)
}

// fill makes resp an OFFER or ACK of addr (none for INFORM) with options.
func (s *Server) fill(req, resp *dhcpv4.DHCPv4, typ dhcpv4.MessageType, addr netip.Addr) {
	if addr.IsValid() {
		resp.YourIPAddr = addr.AsSlice()
	}
	lt := s.leaseTime(req)
	mask := net.CIDRMask(s.cfg.Prefix.Bits(), 32)
	resp.UpdateOption(dhcpv4.OptMessageType(typ))
	resp.UpdateOption(dhcpv4.OptServerIdentifier(s.cfg.ServerAddr.AsSlice()))
	resp.UpdateOption(dhcpv4.OptSubnetMask(mask))
	resp.UpdateOption(dhcpv4.OptRouter(s.cfg.ServerAddr.AsSlice()))
	resp.UpdateOption(dhcpv4.OptBroadcastAddress(broadcast(s.cfg.Prefix)))
	resp.UpdateOption(dhcpv4.OptIPAddressLeaseTime(lt))
	resp.UpdateOption(dhcpv4.OptRenewTimeValue(lt / 2))
	resp.UpdateOption(dhcpv4.OptRebindingTimeValue(lt * 7 / 8))
	if len(s.cfg.DNS) > 0 {
		dns := make([]net.IP, len(s.cfg.DNS))
		for i, a := range s.cfg.DNS {
			dns[i] = a.AsSlice()
		}
		resp.UpdateOption(dhcpv4.OptDNS(dns...))
	}
	if h := hostname(req); h != "" {
		resp.UpdateOption(dhcpv4.OptHostName(h))
	}
}

// leaseTime is the client's requested lease time clamped to the limits,
// or the default.
func (s *Server) leaseTime(req *dhcpv4.DHCPv4) time.Duration {
	want := req.IPAddressLeaseTime(0)
	if want <= 0 {
		return s.cfg.LeaseTime
	}
	return min(max(want, minLeaseTime), s.cfg.MaxLeaseTime)
}

// hostname returns the client's host name if it is a valid one, else "".
func hostname(req *dhcpv4.DHCPv4) string {
	h := req.HostName()
	if h == "" || names.ValidMachine(h) != nil {
		return ""
	}
	return h
}

func ipv4(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	a = a.Unmap()
	if !ok || !a.Is4() || a.IsUnspecified() {
		return netip.Addr{}, false
	}
	return a, true
}

func broadcast(p netip.Prefix) net.IP {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	for i := 0; i < 4; i++ {
		b[3-i] |= byte(host >> (8 * i))
	}
	return net.IP(b[:])
}
