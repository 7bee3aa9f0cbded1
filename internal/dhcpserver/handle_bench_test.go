package dhcpserver

import (
	"net/netip"
	"testing"
)

// BenchmarkHandlePacketDORA measures one DISCOVER and one REQUEST through
// the packet path, with new clients on a /16.
func BenchmarkHandlePacketDORA(b *testing.B) {
	s, _ := newTestServer(b, func(c *Config) {
		c.Prefix = netip.MustParsePrefix("10.9.0.0/16")
		c.Rate, c.Burst = 1e9, 1e9
	})
	disc := discover(b, mac(0)).ToBytes()
	offer := exchange(b, s, discover(b, mac(0)))
	req := request(b, offer).ToBytes()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		disc[32], disc[33] = byte(i>>8), byte(i)
		req[32], req[33] = byte(i>>8), byte(i)
		if r, _ := s.HandlePacket(disc); r == nil {
			b.Fatal("no offer")
		}
		s.HandlePacket(req)
	}
}
