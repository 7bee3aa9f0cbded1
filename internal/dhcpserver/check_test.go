package dhcpserver

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// validDiscover returns the bytes of a DISCOVER with a client id and host name.
func validDiscover(t testing.TB) []byte {
	return discover(t, mac(1),
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 2, 0, 0, 0, 0, 1})),
		dhcpv4.WithOption(dhcpv4.OptHostName("box"))).ToBytes()
}

// endAt returns the index of the END option in a packet made by ToBytes.
func endAt(b []byte) int {
	i := optionStart
	for b[i] != optEnd {
		if b[i] == optPad {
			i++
			continue
		}
		i += 2 + int(b[i+1])
	}
	return i
}

// withOptions replaces the options of a valid packet by opts.
func withOptions(t testing.TB, opts ...byte) []byte {
	b := validDiscover(t)
	return append(b[:optionStart:optionStart], opts...)
}

func TestCheckDrops(t *testing.T) {
	tests := []struct {
		name string
		pkt  func(t testing.TB) []byte
		want error
	}{
		{"empty", func(testing.TB) []byte { return nil }, errShort},
		{"short", func(t testing.TB) []byte { return validDiscover(t)[:239] }, errShort},
		{"oversized", func(t testing.TB) []byte { return append(validDiscover(t), make([]byte, maxPacket)...) }, errLong},
		{"reply op", func(t testing.TB) []byte { b := validDiscover(t); b[0] = 2; return b }, errOp},
		{"htype 0", func(t testing.TB) []byte { b := validDiscover(t); b[1] = 0; return b }, errHWType},
		{"htype 255", func(t testing.TB) []byte { b := validDiscover(t); b[1] = 255; return b }, errHWType},
		{"hlen 17", func(t testing.TB) []byte { b := validDiscover(t); b[2] = 17; return b }, errHWLen},
		{"hlen 0", func(t testing.TB) []byte { b := validDiscover(t); b[2] = 0; return b }, errHWLen},
		{"bad cookie", func(t testing.TB) []byte { b := validDiscover(t); b[239] = 0; return b }, errCookie},
		{"no END", func(t testing.TB) []byte { b := validDiscover(t); return b[:endAt(b)] }, errNoEnd},
		{"only cookie", func(t testing.TB) []byte { return validDiscover(t)[:240] }, errNoEnd},
		{"option past end", func(t testing.TB) []byte { return withOptions(t, 53, 1, 1, 12, 200, 'a') }, errOptionLen},
		{"length byte missing", func(t testing.TB) []byte { return withOptions(t, 53, 1, 1, 12) }, errOptionLen},
		{"data after END", func(t testing.TB) []byte { return withOptions(t, 53, 1, 1, 255, 12, 1, 'a') }, errAfterEnd},
		{"overload", func(t testing.TB) []byte { return withOptions(t, 53, 1, 1, 52, 1, 3, 255) }, errOverload},
		{"no message type", func(t testing.TB) []byte { return withOptions(t, 12, 1, 'a', 255) }, errMsgType},
		{"long message type", func(t testing.TB) []byte { return withOptions(t, 53, 2, 1, 1, 255) }, errMsgType},
		{"empty client id", func(t testing.TB) []byte { return withOptions(t, 53, 1, 1, 61, 0, 255) }, errClientID},
		{"255-byte client id", func(t testing.TB) []byte {
			return withOptions(t, append(append([]byte{53, 1, 1, 61, 255}, bytes.Repeat([]byte{7}, 255)...), 255)...)
		}, errClientID},
		{"empty host name", func(t testing.TB) []byte { return withOptions(t, 53, 1, 1, 12, 0, 255) }, errHostname},
		{"255-byte host name", func(t testing.TB) []byte {
			return withOptions(t, append(append([]byte{53, 1, 1, 12, 255}, bytes.Repeat([]byte{'a'}, 255)...), 255)...)
		}, errHostname},
		{"valid", validDiscover, nil},
		{"valid padded", func(t testing.TB) []byte { return withOptions(t, 0, 0, 53, 1, 1, 255, 0, 0, 0) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.pkt(t)
			if err := check(b); !errors.Is(err, tt.want) {
				t.Fatalf("check = %v, want %v", err, tt.want)
			}
			s, _ := newTestServer(t)
			reply, _ := s.HandlePacket(b)
			st := s.Stats()
			if tt.want != nil && (reply != nil || st.Malformed != 1) {
				t.Fatalf("bad packet answered or not counted: reply %v, stats %+v", reply != nil, st)
			}
			if tt.want == nil && reply == nil {
				t.Fatal("valid packet not answered")
			}
		})
	}
}

func TestRelayedDropped(t *testing.T) {
	s, _ := newTestServer(t)
	d := discover(t, mac(1))
	d.GatewayIPAddr = net.IPv4(10, 9, 0, 5)
	if r, _ := s.HandlePacket(d.ToBytes()); r != nil || s.Stats().Relayed != 1 {
		t.Fatalf("relayed packet answered or not counted: %+v", s.Stats())
	}
}

func TestLinkRelays(t *testing.T) {
	tests := []struct {
		name   string
		accept bool
		giaddr net.IP
		want   string // reply destination, "" for none
	}{
		{"off", false, net.IPv4(10, 9, 0, 14), ""},
		{"on link", true, net.IPv4(10, 9, 0, 14), "10.9.0.14:67"},
		{"off link", true, net.IPv4(10, 8, 0, 14), ""},
		{"server address", true, testServer.AsSlice(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, func(c *Config) { c.AcceptLinkRelays = tt.accept })
			d := discover(t, mac(1))
			d.GatewayIPAddr = tt.giaddr
			reply, dst := s.HandlePacket(d.ToBytes())
			got := ""
			if reply != nil {
				got = dst.String()
				if r, _ := dhcpv4.FromBytes(reply); !r.GatewayIPAddr.Equal(tt.giaddr) {
					t.Fatalf("reply giaddr %v", r.GatewayIPAddr)
				}
			}
			if got != tt.want {
				t.Fatalf("reply to %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLimiterSize(t *testing.T) {
	for bits, want := range map[int]int{28: 256, 24: 1024, 20: 16384, 16: 65536, 8: 65536} {
		if got := limiterSize(netip.PrefixFrom(netip.MustParseAddr("10.0.0.0"), bits)); got != want {
			t.Errorf("limiterSize(/%d) = %d, want %d", bits, got, want)
		}
	}
}

func TestRateLimitPerClient(t *testing.T) {
	s, clk := newTestServer(t)
	answered := 0
	for i := 0; i < 100; i++ {
		if r, _ := s.HandlePacket(discover(t, mac(1)).ToBytes()); r != nil {
			answered++
		}
	}
	if answered != DefaultBurst {
		t.Fatalf("answered %d of a burst of 100, want %d", answered, DefaultBurst)
	}
	if r := exchange(t, s, discover(t, mac(2))); r == nil {
		t.Fatal("another client was limited too")
	}
	clk.Add(time.Second)
	if r := exchange(t, s, discover(t, mac(1))); r == nil {
		t.Fatal("client still limited after a second")
	}
}

func TestDiscoverFloodGrowsNoState(t *testing.T) {
	s, clk := newTestServer(t)
	rng := rand.New(rand.NewPCG(1, 2))
	pkt := discover(t, mac(0)).ToBytes()
	for i := 0; i < 100000; i++ {
		for j := 28; j < 34; j++ {
			pkt[j] = byte(rng.Uint32())
		}
		pkt[28] &^= 1 // unicast MAC
		s.HandlePacket(pkt)
		clk.Add(10 * time.Microsecond) // 100k packets per second
	}
	if n := len(s.Leases()); n != 0 {
		t.Fatalf("flood left %d leases", n)
	}
	if st := s.Stats(); st.RateLimited == 0 {
		t.Fatalf("flood not rate limited: %+v", st)
	}
	clk.Add(3 * time.Second)
	dora(t, s, mac(1))
}

func TestRenewalsPassAFlood(t *testing.T) {
	s, clk := newTestServer(t)
	ack := dora(t, s, mac(1))
	renew, _ := dhcpv4.NewRenewFromAck(ack)
	rng := rand.New(rand.NewPCG(3, 4))
	pkt := discover(t, mac(0)).ToBytes()
	for i := 0; i < 20000; i++ {
		for j := 28; j < 34; j++ {
			pkt[j] = byte(rng.Uint32())
		}
		s.HandlePacket(pkt)
		clk.Add(10 * time.Microsecond)
		if i%1000 == 999 {
			if r := exchange(t, s, renew); r == nil || r.MessageType() != dhcpv4.MessageTypeAck {
				t.Fatalf("renewal during the flood (packet %d) answered %v", i, r)
			}
		}
	}
}

func FuzzHandler(f *testing.F) {
	valid := validDiscover(f)
	s0, _ := newTestServer(f)
	offer := exchange(f, s0, discover(f, mac(1)))
	req := request(f, offer).ToBytes()
	ack := exchange(f, s0, request(f, offer))
	rel, _ := dhcpv4.NewReleaseFromACK(ack)
	renew, _ := dhcpv4.NewRenewFromAck(ack)
	for _, seed := range [][]byte{
		valid, req, rel.ToBytes(), renew.ToBytes(),
		valid[:239], valid[:endAt(valid)], append(valid, make([]byte, maxPacket)...),
		withOptions(f, 53, 1, 3, 50, 4, 10, 9, 0, 5, 54, 4, 10, 9, 0, 1, 12, 250, 'x'),
		withOptions(f, 53, 1, 1, 52, 1, 3, 255),
		withOptions(f, 53, 1, 3),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, _ := newTestServer(t)
		reply, _ := s.HandlePacket(b)
		if p := s.Stats().Panics; p != 0 {
			t.Fatalf("%d panics", p)
		}
		if reply != nil {
			if _, err := dhcpv4.FromBytes(reply); err != nil {
				t.Fatalf("reply does not decode: %v", err)
			}
		}
	})
}

func TestRequestFloodFillsOnlyThePool(t *testing.T) {
	s, clk := newTestServer(t)
	owner := dora(t, s, mac(1))
	for i := 0; i < 2000; i++ {
		m := discover(t, mac(5000+i), dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{0, byte(i >> 8), byte(i)})))
		m.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeRequest))
		m.UpdateOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 9, 0, byte(2+i%13))))
		s.HandlePacket(m.ToBytes())
		clk.Add(time.Millisecond)
	}
	if n := len(s.Leases()); n != 13 {
		t.Fatalf("%d leases after the flood, want the pool's 13", n)
	}
	renew, _ := dhcpv4.NewRenewFromAck(owner)
	if r := exchange(t, s, renew); r == nil || r.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("existing client's renewal answered %v", r)
	}
	if r := exchange(t, s, discover(t, mac(9999))); r != nil {
		t.Fatalf("new client answered from a full pool: %v", r)
	}
}
