package addrpool

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"sync"
)

// ErrExhausted is returned when no free subnet of the asked size is left.
var ErrExhausted = errors.New("no free private subnet")

// Pools returns the private ranges searched, in order.
func Pools() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("10.0.0.0/8"),
	}
}

// Subnet sizes networkd uses for container links.
const (
	VethBits = 28 // ve-* links
	ZoneBits = 24 // vz-* bridges
)

const randomTries = 1024

// Allocator hands out subnets by key (a link name) and remembers them until
// released. Its methods may be called concurrently.
type Allocator struct {
	rand func(n uint64) uint64

	mu sync.Mutex
	// held maps keys to their subnets; guarded by mu.
	held map[string]netip.Prefix
}

// Option configures an Allocator.
type Option func(*Allocator)

// WithRand replaces the random source (for tests): rand(n) returns a
// number in [0, n).
func WithRand(rand func(n uint64) uint64) Option {
	return func(a *Allocator) { a.rand = rand }
}

// New returns an Allocator holding nothing.
func New(opts ...Option) *Allocator {
	a := &Allocator{rand: rand.Uint64N, held: map[string]netip.Prefix{}}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Allocate returns a free subnet of bits bits for key and holds it: key's
// current subnet if it has one of that size, else prefer if it is free and
// private, else a new one. A subnet is free when it overlaps nothing in
// inUse (default routes excepted) and nothing held for another key.
func (a *Allocator) Allocate(key string, bits int, inUse []netip.Prefix, prefer netip.Prefix) (netip.Prefix, error) {
	if bits < 8 || bits > 30 {
		return netip.Prefix{}, fmt.Errorf("allocate subnet: bad size /%d", bits)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.held[key]; ok && p.Bits() == bits {
		return p, nil
	}
	busy := a.busyLocked(key, inUse)
	if prefer.IsValid() && prefer.Bits() == bits && private(prefer) && free(prefer.Masked(), busy) {
		a.held[key] = prefer.Masked()
		return prefer.Masked(), nil
	}
	for _, pool := range Pools() {
		if p, ok := a.search(pool, bits, busy); ok {
			a.held[key] = p
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("allocate /%d for %s: %w", bits, key, ErrExhausted)
}

// Hold records that key owns p, as found on a link already configured.
// It fails if p overlaps a subnet held for another key.
func (a *Allocator) Hold(key string, p netip.Prefix) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !free(p.Masked(), a.busyLocked(key, nil)) {
		return fmt.Errorf("hold %v for %s: overlaps another link's subnet", p, key)
	}
	a.held[key] = p.Masked()
	return nil
}

// Release forgets key's subnet.
func (a *Allocator) Release(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.held, key)
}

// Held returns a copy of every key's subnet.
func (a *Allocator) Held() map[string]netip.Prefix {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]netip.Prefix, len(a.held))
	for k, p := range a.held {
		out[k] = p
	}
	return out
}

// busyLocked lists what a new subnet for key must not overlap.
func (a *Allocator) busyLocked(key string, inUse []netip.Prefix) []netip.Prefix {
	busy := make([]netip.Prefix, 0, len(inUse)+len(a.held))
	for _, p := range inUse {
		if p.Addr().Is4() && p.Bits() > 0 {
			busy = append(busy, p.Masked())
		}
	}
	for k, p := range a.held {
		if k != key {
			busy = append(busy, p)
		}
	}
	sort.Slice(busy, func(i, j int) bool { return busy[i].Addr().Less(busy[j].Addr()) })
	return busy
}

// search tries random subnets of pool, then scans it in order.
func (a *Allocator) search(pool netip.Prefix, bits int, busy []netip.Prefix) (netip.Prefix, bool) {
	if bits < pool.Bits() {
		return netip.Prefix{}, false
	}
	n := uint64(1) << (bits - pool.Bits())
	for i := 0; i < randomTries; i++ {
		if p := nth(pool, bits, a.rand(n)); free(p, busy) {
			return p, true
		}
	}
	for i := uint64(0); i < n; i++ {
		if p := nth(pool, bits, i); free(p, busy) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// nth returns the i-th subnet of bits bits inside pool.
func nth(pool netip.Prefix, bits int, i uint64) netip.Prefix {
	b := pool.Addr().As4()
	base := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v := base + uint32(i)<<(32-bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits)
}

func free(p netip.Prefix, busy []netip.Prefix) bool {
	for _, b := range busy {
		if b.Overlaps(p) {
			return false
		}
	}
	return true
}

func private(p netip.Prefix) bool {
	for _, pool := range Pools() {
		if pool.Contains(p.Addr()) && p.Bits() >= pool.Bits() {
			return true
		}
	}
	return false
}

// HostAddr returns the address the host side takes in p: the first one.
func HostAddr(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }
