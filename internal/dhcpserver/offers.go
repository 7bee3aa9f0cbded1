package dhcpserver

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// offerHold is how long a recent offer steers other clients away from its
// address.
const offerHold = 2 * time.Second

// Bounds of the offer table's size.
const (
	minOfferSlots = 64
	maxOfferSlots = 4096
)

// offers remembers recent offers in a fixed-size table indexed by a keyed
// hash of the address, so that two clients discovering at once are offered
// different addresses. It reserves nothing: an entry is overwritten by any
// later offer hashing to its slot, and the lease table ignores the hint
// when no other address is free. It never grows.
type offers struct {
	seed maphash.Seed

	mu sync.Mutex
	// slots are the recent offers; guarded by mu.
	slots []offer
}

type offer struct {
	addr   netip.Addr
	client uint64 // hash of the client key
	at     int64  // unix nanoseconds
}

// newOffers sizes the table at one slot per pool address, within bounds.
func newOffers(p netip.Prefix) *offers {
	pool := 1 << (32 - p.Bits())
	n := minOfferSlots
	for n < pool && n < maxOfferSlots {
		n *= 2
	}
	return &offers{seed: maphash.MakeSeed(), slots: make([]offer, n)}
}

func (o *offers) slot(a netip.Addr) *offer {
	b := a.As4()
	return &o.slots[maphash.Bytes(o.seed, b[:])%uint64(len(o.slots))]
}

// record notes that addr was offered to client at now.
func (o *offers) record(addr netip.Addr, client string, now time.Time) {
	h := maphash.String(o.seed, client)
	o.mu.Lock()
	*o.slot(addr) = offer{addr: addr, client: h, at: now.UnixNano()}
	o.mu.Unlock()
}

// avoider returns a function telling whether addr was offered to a client
// other than client within offerHold of now.
func (o *offers) avoider(client string, now time.Time) func(netip.Addr) bool {
	h := maphash.String(o.seed, client)
	return func(addr netip.Addr) bool {
		o.mu.Lock()
		s := *o.slot(addr)
		o.mu.Unlock()
		return s.addr == addr && s.client != h && now.UnixNano()-s.at < int64(offerHold)
	}
}
