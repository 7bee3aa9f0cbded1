package radv

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"time"
)

// ErrPrefix is returned for a prefix that is not an IPv6 /64.
var ErrPrefix = errors.New("router advertisement prefix must be an IPv6 /64")

// ICMPv6 types and option codes used here (RFC 4861).
const (
	typeSolicit   = 133
	typeAdvertise = 134
	optSourceLL   = 1
	optPrefixInfo = 3
)

// Defaults of Config.
const (
	DefaultInterval       = 200 * time.Second
	DefaultRouterLifetime = 1800 * time.Second
	DefaultValidLifetime  = 24 * time.Hour
)

// Config describes what to advertise.
type Config struct {
	// Prefix is the link's /64, advertised on-link and for autoconfiguration.
	Prefix netip.Prefix
	// Interval is the time between unsolicited advertisements.
	Interval time.Duration
	// RouterLifetime is how long the host is the default router
	// (DefaultRouterLifetime if zero).
	RouterLifetime time.Duration
}

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.RouterLifetime == 0 {
		c.RouterLifetime = DefaultRouterLifetime
	}
	return c
}

// Message returns the ICMPv6 router advertisement for c from a router
// with hardware address mac (the checksum is left to the kernel).
func Message(c Config, mac net.HardwareAddr) ([]byte, error) {
	c = c.withDefaults()
	if !c.Prefix.Addr().Is6() || c.Prefix.Addr().Is4In6() || c.Prefix.Bits() != 64 {
		return nil, ErrPrefix
	}
	b := make([]byte, 16, 16+32+8)
	b[0] = typeAdvertise
	b[4] = 64 // current hop limit
	binary.BigEndian.PutUint16(b[6:], uint16(c.RouterLifetime/time.Second))
	b = append(b, prefixInfo(c.Prefix)...)
	if len(mac) == 6 {
		b = append(b, optSourceLL, 1)
		b = append(b, mac...)
	}
	return b, nil
}

// prefixInfo is the prefix information option: on-link and autonomous.
func prefixInfo(p netip.Prefix) []byte {
	o := make([]byte, 32)
	o[0], o[1], o[2], o[3] = optPrefixInfo, 4, 64, 0xc0
	valid := uint32(DefaultValidLifetime / time.Second)
	binary.BigEndian.PutUint32(o[4:], valid)
	binary.BigEndian.PutUint32(o[8:], valid/2)
	a := p.Masked().Addr().As16()
	copy(o[16:], a[:])
	return o
}

// IsSolicit reports whether b is a well-formed router solicitation: type
// 133, code 0, and options that each have a non-zero length and fit.
func IsSolicit(b []byte) bool {
	if len(b) < 8 || b[0] != typeSolicit || b[1] != 0 {
		return false
	}
	for opts := b[8:]; len(opts) > 0; {
		if len(opts) < 2 || opts[1] == 0 || int(opts[1])*8 > len(opts) {
			return false
		}
		opts = opts[int(opts[1])*8:]
	}
	return true
}
