package dhcpserver

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/leases"
)

// Defaults of Config.
const (
	DefaultLeaseTime    = 3600 * time.Second
	DefaultMaxLeaseTime = 12 * time.Hour
	DefaultRate         = 10 // packets per second per client
	DefaultBurst        = 20
	DefaultSaveDelay    = time.Second
	minLeaseTime        = 60 * time.Second
	declineHold         = 10 * time.Minute
	poolFullLogEvery    = 30 * time.Second
)

// ErrConfig is returned by New for an unusable configuration.
var ErrConfig = errors.New("bad dhcp server configuration")

// Config configures a Server.
type Config struct {
	// Prefix is the link's IPv4 subnet; the pool is all of it but the
	// network, broadcast and server addresses.
	Prefix netip.Prefix
	// ServerAddr is the host side's address on the link: the router
	// option and server identifier.
	ServerAddr netip.Addr
	// DNS lists the DNS servers to offer; none means no DNS option.
	DNS []netip.Addr
	// LeaseTime is the lease time given when the client asks for none
	// (DefaultLeaseTime if zero); MaxLeaseTime caps what clients ask for
	// (DefaultMaxLeaseTime if zero).
	LeaseTime, MaxLeaseTime time.Duration
	// LeaseFile, if set, is where leases are loaded from and saved to.
	LeaseFile string
	// SaveDelay coalesces lease file writes (DefaultSaveDelay if zero).
	SaveDelay time.Duration
	// Rate and Burst limit packets per client (DefaultRate and
	// DefaultBurst if zero).
	Rate  float64
	Burst int
	// AcceptLinkRelays makes the server answer packets relayed by an agent
	// whose giaddr lies inside Prefix (replies go to giaddr:67). Off by
	// default: on a container link such a relay can only be the container
	// itself. Load generators such as perfdhcp act as one.
	AcceptLinkRelays bool
	// Logger receives the server's log lines (discarded if nil).
	Logger *log.Logger
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Stats counts what a Server did. The fields only grow.
type Stats struct {
	Received, Malformed, Relayed, RateLimited, Panics uint64
	Offers, Acks, Naks, Releases, Declines, Informs   uint64
	PoolFull, SendErrors                              uint64
}

type counters struct {
	received, malformed, relayed, rateLimited, panics atomic.Uint64
	offers, acks, naks, releases, declines, informs   atomic.Uint64
	poolFull, sendErrors                              atomic.Uint64
}

// Server is the DHCPv4 server of one link. Its methods may be called
// concurrently.
type Server struct {
	cfg    Config
	table  *leases.Table
	limit  *limiter
	recent *offers
	log    *log.Logger
	stats  counters
	dirty  chan struct{}

	mu sync.Mutex
	// lastPoolFullLog rate-limits the pool-full log line; guarded by mu.
	lastPoolFullLog time.Time
}

// New checks cfg, loads the lease file if any, and returns a Server.
func New(cfg Config) (*Server, error) {
	cfg = withDefaults(cfg)
	table, err := leases.NewTable(cfg.Prefix, cfg.ServerAddr)
	if err != nil {
		return nil, fmt.Errorf("new dhcp server: %w: %w", ErrConfig, err)
	}
	if cfg.ServerAddr.Is4() && cfg.ServerAddr == cfg.Prefix.Masked().Addr() {
		return nil, fmt.Errorf("new dhcp server: %w: server is the network address", ErrConfig)
	}
	s := &Server{
		cfg:    cfg,
		table:  table,
		limit:  newLimiter(cfg.Rate, cfg.Burst, limiterSize(cfg.Prefix)),
		recent: newOffers(cfg.Prefix),
		log:    cfg.Logger,
		dirty:  make(chan struct{}, 1),
	}
	if cfg.LeaseFile != "" {
		table.Load(cfg.LeaseFile, cfg.Now(), s.log)
	}
	return s, nil
}

func withDefaults(c Config) Config {
	if c.LeaseTime == 0 {
		c.LeaseTime = DefaultLeaseTime
	}
	if c.MaxLeaseTime == 0 {
		c.MaxLeaseTime = DefaultMaxLeaseTime
	}
	if c.SaveDelay == 0 {
		c.SaveDelay = DefaultSaveDelay
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Burst == 0 {
		c.Burst = DefaultBurst
	}
	if c.Logger == nil {
		c.Logger = log.New(io.Discard, "", 0)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Prefix = c.Prefix.Masked()
	return c
}

// Leases returns the current leases, expired ones included, by address.
func (s *Server) Leases() []leases.Lease { return s.table.All() }

// Prefix returns the subnet the server hands out addresses from.
func (s *Server) Prefix() netip.Prefix { return s.cfg.Prefix }

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Received: c.received.Load(), Malformed: c.malformed.Load(),
		Relayed: c.relayed.Load(), RateLimited: c.rateLimited.Load(),
		Panics: c.panics.Load(), Offers: c.offers.Load(), Acks: c.acks.Load(),
		Naks: c.naks.Load(), Releases: c.releases.Load(),
		Declines: c.declines.Load(), Informs: c.informs.Load(),
		PoolFull: c.poolFull.Load(), SendErrors: c.sendErrors.Load(),
	}
}

// Save writes the lease file now, if the server has one.
func (s *Server) Save() error {
	if s.cfg.LeaseFile == "" {
		return nil
	}
	return s.table.Save(s.cfg.LeaseFile)
}

// markDirty asks the saver to write the lease file soon.
func (s *Server) markDirty() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// logPoolFull logs that the pool is full, at most once per interval.
func (s *Server) logPoolFull(client string, now time.Time) {
	s.stats.poolFull.Add(1)
	s.mu.Lock()
	quiet := now.Sub(s.lastPoolFullLog) < poolFullLogEvery
	if !quiet {
		s.lastPoolFullLog = now
	}
	s.mu.Unlock()
	if !quiet {
		s.log.Printf("address pool %v full, not answering %s", s.cfg.Prefix, client)
	}
}
