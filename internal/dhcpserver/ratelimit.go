package dhcpserver

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// Bounds of the rate limiter's table size.
const (
	minLimiterSlots = 256
	maxLimiterSlots = 1 << 16
)

// limiterSize is the table size for a pool: four slots per address,
// within bounds, so state follows the pool's size and never the traffic.
func limiterSize(p netip.Prefix) int {
	pool := 1 << (32 - p.Bits())
	n := minLimiterSlots
	for n < 4*pool && n < maxLimiterSlots {
		n *= 2
	}
	return n
}

// limiter is a token bucket per client, kept in a fixed table indexed by a
// keyed hash of the client's hardware address. Clients that collide share a
// bucket; the table never grows.
type limiter struct {
	seed  maphash.Seed
	rate  float64 // tokens per second
	burst float64

	mu sync.Mutex
	// slots are the buckets, fixed in number; guarded by mu.
	slots []bucket
}

type bucket struct {
	tokens float64
	last   int64 // unix nanoseconds of the last refill; 0 for a fresh bucket
}

func newLimiter(rate float64, burst, slots int) *limiter {
	return &limiter{seed: maphash.MakeSeed(), rate: rate, burst: float64(burst), slots: make([]bucket, slots)}
}

// allow takes a token from key's bucket at now and reports whether there
// was one.
func (l *limiter) allow(key []byte, now time.Time) bool {
	i := maphash.Bytes(l.seed, key) % uint64(len(l.slots))
	t := now.UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := &l.slots[i]
	if b.last == 0 {
		b.tokens = l.burst
	} else if d := t - b.last; d > 0 {
		b.tokens = min(l.burst, b.tokens+float64(d)*l.rate/1e9)
	}
	b.last = t
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
