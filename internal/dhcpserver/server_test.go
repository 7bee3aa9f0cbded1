package dhcpserver

import (
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

var (
	testPrefix = netip.MustParsePrefix("10.9.0.0/28")
	testServer = netip.MustParseAddr("10.9.0.1")
	testDNS    = netip.MustParseAddr("10.9.9.9")
	t0         = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

func newTestServer(t testing.TB, mod ...func(*Config)) (*Server, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: t0}
	cfg := Config{Prefix: testPrefix, ServerAddr: testServer, DNS: []netip.Addr{testDNS}, Now: clk.Now}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func mac(i int) net.HardwareAddr { return net.HardwareAddr{0x02, 0, 0, 0, byte(i >> 8), byte(i)} }

func discover(t testing.TB, hw net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	d, err := dhcpv4.NewDiscovery(hw, mods...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func request(t testing.TB, offer *dhcpv4.DHCPv4, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	r, err := dhcpv4.NewRequestFromOffer(offer, mods...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// exchange runs req through s's packet path and decodes the reply.
func exchange(t testing.TB, s *Server, req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	t.Helper()
	b, _ := s.HandlePacket(req.ToBytes())
	if b == nil {
		return nil
	}
	resp, err := dhcpv4.FromBytes(b)
	if err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	return resp
}

// dora gets hw a lease from s and returns the ACK.
func dora(t testing.TB, s *Server, hw net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	offer := exchange(t, s, discover(t, hw, mods...))
	if offer == nil || offer.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("no offer for %v: %v", hw, offer)
	}
	ack := exchange(t, s, request(t, offer, mods...))
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("no ack for %v: %v", hw, ack)
	}
	return ack
}

type summary struct {
	Type                 string
	YourIP, Router, DNS  string
	Mask                 string
	ServerID, Hostname   string
	LeaseTime, T1, T2    time.Duration
	ClientIDEchoed, Bcst bool
}

func summarize(m *dhcpv4.DHCPv4) summary {
	s := summary{
		Type:     m.MessageType().String(),
		YourIP:   m.YourIPAddr.String(),
		ServerID: m.ServerIdentifier().String(),
		Hostname: m.HostName(), Bcst: m.IsBroadcast(),
		LeaseTime:      m.IPAddressLeaseTime(0),
		T1:             m.IPAddressRenewalTime(0),
		T2:             m.IPAddressRebindingTime(0),
		ClientIDEchoed: m.Options.Has(dhcpv4.OptionClientIdentifier),
	}
	if r := m.Router(); len(r) > 0 {
		s.Router = r[0].String()
	}
	if d := m.DNS(); len(d) > 0 {
		s.DNS = d[0].String()
	}
	if mk := m.SubnetMask(); mk != nil {
		s.Mask = net.IP(mk).String()
	}
	return s
}

func TestDORAOverPacketConn(t *testing.T) {
	s, _ := newTestServer(t)
	srv, cli := newPipe()
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(srv) }()
	defer func() {
		cli.Close()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}()
	hw := mac(1)
	mods := []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptHostName("box1")),
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 2, 0, 0, 0, 0, 1}))}
	send := func(m *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
		if _, err := cli.WriteTo(m.ToBytes(), nil); err != nil {
			t.Fatal(err)
		}
		b := cli.recv()
		if b == nil {
			t.Fatal("no reply")
		}
		r, err := dhcpv4.FromBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	offer := send(discover(t, hw, mods...))
	if len(s.Leases()) != 0 {
		t.Fatal("DISCOVER reserved an address")
	}
	ack := send(request(t, offer, mods...))
	want := summary{Type: "ACK", YourIP: offer.YourIPAddr.String(), Router: "10.9.0.1", DNS: "10.9.9.9",
		Mask: "255.255.255.240", ServerID: "10.9.0.1", Hostname: "box1",
		LeaseTime: time.Hour, T1: 30 * time.Minute, T2: 52*time.Minute + 30*time.Second, ClientIDEchoed: true}
	if diff := cmp.Diff(want, summarize(ack)); diff != "" {
		t.Fatalf("ACK -want +got:\n%s", diff)
	}
	if got := s.Leases(); len(got) != 1 || got[0].Hostname != "box1" || got[0].Addr.String() != want.YourIP {
		t.Fatalf("leases: %+v", got)
	}
}

func TestLeaseTimeClamp(t *testing.T) {
	tests := []struct {
		name string
		ask  time.Duration
		want time.Duration
	}{
		{"default", 0, time.Hour},
		{"shorter", 20 * time.Minute, 20 * time.Minute},
		{"longer", 24 * time.Hour, 12 * time.Hour},
		{"tiny", time.Second, time.Minute},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t)
			var mods []dhcpv4.Modifier
			if tt.ask > 0 {
				mods = append(mods, dhcpv4.WithLeaseTime(uint32(tt.ask/time.Second)))
			}
			ack := dora(t, s, mac(i), mods...)
			if got := ack.IPAddressLeaseTime(0); got != tt.want {
				t.Fatalf("lease time %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNakForStolenAddress(t *testing.T) {
	s, _ := newTestServer(t)
	ack := dora(t, s, mac(1))
	thief := discover(t, mac(2))
	thief.MessageType()
	thief.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeRequest))
	thief.UpdateOption(dhcpv4.OptRequestedIPAddress(ack.YourIPAddr))
	thief.UpdateOption(dhcpv4.OptServerIdentifier(testServer.AsSlice()))
	if r := exchange(t, s, thief); r == nil || r.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("stolen request answered %v", r)
	}
	renew := dhcpv4.NewRenewFromAck
	m, _ := renew(ack)
	if r := exchange(t, s, m); r == nil || r.MessageType() != dhcpv4.MessageTypeAck || !r.YourIPAddr.Equal(ack.YourIPAddr) {
		t.Fatalf("owner's renewal answered %v", r)
	}
	if st := s.Stats(); st.Naks != 1 || st.Acks != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRequestForOtherServerIgnored(t *testing.T) {
	s, _ := newTestServer(t)
	offer := exchange(t, s, discover(t, mac(1)))
	req := request(t, offer)
	req.UpdateOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 9, 0, 2)))
	if r := exchange(t, s, req); r != nil {
		t.Fatalf("answered a request for another server: %v", r)
	}
}

func TestRequestOutsidePoolNaked(t *testing.T) {
	s, _ := newTestServer(t)
	req := discover(t, mac(1))
	req.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeRequest))
	req.UpdateOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 168, 1, 5)))
	if r := exchange(t, s, req); r == nil || r.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("INIT-REBOOT for a foreign address answered %v", r)
	}
}

func TestReleaseAndDecline(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(rel *dhcpv4.DHCPv4)
		typ       dhcpv4.MessageType
		wantLease bool
	}{
		{"release", func(*dhcpv4.DHCPv4) {}, dhcpv4.MessageTypeRelease, false},
		{"release wrong ciaddr", func(m *dhcpv4.DHCPv4) { m.ClientIPAddr = net.IPv4(10, 9, 0, 14) }, dhcpv4.MessageTypeRelease, true},
		{"release spoofed client", func(m *dhcpv4.DHCPv4) { m.ClientHWAddr = mac(9) }, dhcpv4.MessageTypeRelease, true},
		{"decline", func(m *dhcpv4.DHCPv4) {
			m.UpdateOption(dhcpv4.OptRequestedIPAddress(m.ClientIPAddr))
			m.ClientIPAddr = net.IPv4zero
		}, dhcpv4.MessageTypeDecline, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t)
			ack := dora(t, s, mac(1))
			m, _ := dhcpv4.NewReleaseFromACK(ack)
			m.UpdateOption(dhcpv4.OptMessageType(tt.typ))
			tt.mutate(m)
			if r := exchange(t, s, m); r != nil {
				t.Fatalf("answered %v", r)
			}
			_, has := s.table.Lookup(ClientKey(ack))
			if has != tt.wantLease {
				t.Fatalf("lease kept = %v, want %v", has, tt.wantLease)
			}
		})
	}
}

func TestDeclinedAddressNotReoffered(t *testing.T) {
	s, clk := newTestServer(t)
	ack := dora(t, s, mac(1))
	m, _ := dhcpv4.NewReleaseFromACK(ack)
	m.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeDecline))
	m.UpdateOption(dhcpv4.OptRequestedIPAddress(ack.YourIPAddr))
	exchange(t, s, m)
	clk.Add(time.Second)
	if again := exchange(t, s, discover(t, mac(1))); again.YourIPAddr.Equal(ack.YourIPAddr) {
		t.Fatal("declined address offered again")
	}
}

func TestPoolFullSilence(t *testing.T) {
	s, _ := newTestServer(t)
	seen := map[string]bool{}
	for i := 0; i < 13; i++ {
		seen[dora(t, s, mac(i)).YourIPAddr.String()] = true
	}
	if len(seen) != 13 {
		t.Fatalf("%d distinct addresses, want 13", len(seen))
	}
	if r := exchange(t, s, discover(t, mac(100))); r != nil {
		t.Fatalf("full pool answered %v", r)
	}
	if st := s.Stats(); st.PoolFull != 1 {
		t.Fatalf("PoolFull = %d", st.PoolFull)
	}
	m, _ := dhcpv4.NewReleaseFromACK(dora(t, s, mac(3)))
	exchange(t, s, m)
	dora(t, s, mac(100))
}

func TestInform(t *testing.T) {
	s, _ := newTestServer(t)
	m := discover(t, mac(1))
	m.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeInform))
	m.ClientIPAddr = net.IPv4(10, 9, 0, 7)
	r := exchange(t, s, m)
	if r == nil || r.MessageType() != dhcpv4.MessageTypeAck || !r.YourIPAddr.IsUnspecified() || r.Options.Has(dhcpv4.OptionIPAddressLeaseTime) {
		t.Fatalf("INFORM answered %v", r)
	}
	if _, dst := s.HandlePacket(m.ToBytes()); dst.IP.String() != "10.9.0.7" {
		t.Fatalf("INFORM reply to %v", dst)
	}
}

func TestRequestedAddressHonoured(t *testing.T) {
	s, _ := newTestServer(t)
	r := exchange(t, s, discover(t, mac(1), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 9, 0, 12)))))
	if !r.YourIPAddr.Equal(net.IPv4(10, 9, 0, 12)) {
		t.Fatalf("offered %v", r.YourIPAddr)
	}
}

func TestLeasesSurviveRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ve-x.json")
	s, clk := newTestServer(t, func(c *Config) { c.LeaseFile = file })
	ack := dora(t, s, mac(1))
	for i := 2; i < 6; i++ {
		dora(t, s, mac(i))
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	back, _ := newTestServer(t, func(c *Config) { c.LeaseFile = file; c.Now = clk.Now })
	if len(back.Leases()) != 5 {
		t.Fatalf("restored %d leases", len(back.Leases()))
	}
	renew, _ := dhcpv4.NewRenewFromAck(ack)
	if r := exchange(t, back, renew); r == nil || !r.YourIPAddr.Equal(ack.YourIPAddr) {
		t.Fatalf("renewal after restart: %v", r)
	}
	if r := exchange(t, back, discover(t, mac(1))); !r.YourIPAddr.Equal(ack.YourIPAddr) {
		t.Fatalf("rediscover after restart offered %v, want %v", r.YourIPAddr, ack.YourIPAddr)
	}
}

func TestServeSavesLeases(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ve-x.json")
	s, _ := newTestServer(t, func(c *Config) { c.LeaseFile = file })
	srv, cli := newPipe()
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(srv) }()
	ack := dora(t, s, mac(1))
	cli.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	back, _ := newTestServer(t, func(c *Config) { c.LeaseFile = file })
	if l := back.Leases(); len(l) != 1 || l[0].Addr.String() != ack.YourIPAddr.String() {
		t.Fatalf("saved leases: %+v", l)
	}
}

func TestDestination(t *testing.T) {
	s, _ := newTestServer(t)
	_, dst := s.HandlePacket(discover(t, mac(1)).ToBytes())
	if dst.String() != "255.255.255.255:68" {
		t.Fatalf("offer to %v", dst)
	}
}

func TestConcurrentDiscoversGetDistinctOffers(t *testing.T) {
	for pair := 0; pair < 50; pair++ {
		s, _ := newTestServer(t, func(c *Config) { c.Prefix = netip.MustParsePrefix("10.9.0.0/29") })
		for i := 0; i < 3; i++ {
			dora(t, s, mac(1000+i))
		}
		a := exchange(t, s, discover(t, mac(2*pair)))
		b := exchange(t, s, discover(t, mac(2*pair+1)))
		if a.YourIPAddr.Equal(b.YourIPAddr) {
			t.Fatalf("pair %d: both offered %v", pair, a.YourIPAddr)
		}
		if len(s.Leases()) != 3 {
			t.Fatal("an offer reserved an address")
		}
	}
}

func TestRenewalAfterLostLeaseFile(t *testing.T) {
	s, clk := newTestServer(t)
	ack := dora(t, s, mac(1))
	fresh, _ := newTestServer(t, func(c *Config) { c.Now = clk.Now }) // a crash before the lease was saved
	renew, _ := dhcpv4.NewRenewFromAck(ack)
	r := exchange(t, fresh, renew)
	if r == nil || r.MessageType() != dhcpv4.MessageTypeAck || !r.YourIPAddr.Equal(ack.YourIPAddr) {
		t.Fatalf("renewal to a server that lost the lease: %v", r)
	}
	if l := fresh.Leases(); len(l) != 1 || l[0].Addr.String() != ack.YourIPAddr.String() {
		t.Fatalf("lease not recreated: %+v", l)
	}
}
