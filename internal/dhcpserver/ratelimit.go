package dhcpserver

import (
	"hash/maphash"
	"sync"
	"time"
)

// limiterSlots is the fixed size of the rate limiter's table.
const limiterSlots = 4096

// limiter is a token bucket per client, kept in a fixed table indexed by a
// keyed hash of the client's hardware address. Clients that collide share a
// bucket; the table never grows.
type limiter struct {
	seed  maphash.Seed
	rate  float64 // tokens per second
	burst float64

	mu sync.Mutex
	// slots are the buckets; guarded by mu.
	slots [limiterSlots]bucket
}

type bucket struct {
	tokens float64
	last   int64 // unix nanoseconds of the last refill; 0 for a fresh bucket
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{seed: maphash.MakeSeed(), rate: rate, burst: float64(burst)}
}

// allow takes a token from key's bucket at now and reports whether there
// was one.
func (l *limiter) allow(key []byte, now time.Time) bool {
	i := maphash.Bytes(l.seed, key) % limiterSlots
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
