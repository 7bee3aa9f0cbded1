package leases

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// ErrNotInPool is returned for an address outside the table's pool.
var ErrNotInPool = errors.New("address not in pool")

// ErrTaken is returned when an address is held by another client.
var ErrTaken = errors.New("address held by another client")

// declinedClient is the client key of an address blocked after a DECLINE.
const declinedClient = "\x00declined"

// Lease is one address bound to one client.
type Lease struct {
	// ClientID identifies the client: its client identifier option, or
	// its hardware address when it sent none.
	ClientID string `json:"client_id"`
	// HWAddr is the client's hardware address, for display.
	HWAddr string `json:"hwaddr,omitempty"`
	// Addr is the leased address.
	Addr netip.Addr `json:"addr"`
	// Hostname is the host name the client sent, already checked.
	Hostname string `json:"hostname,omitempty"`
	// Expiry is when the lease ends.
	Expiry time.Time `json:"expiry"`
}

// Declined reports whether l is a placeholder blocking a declined address.
func (l Lease) Declined() bool { return l.ClientID == declinedClient }

// Table is the lease table of one pool. Its methods may be called
// concurrently.
type Table struct {
	prefix netip.Prefix
	server netip.Addr
	first  uint32 // first pool address as an integer
	size   uint32 // number of addresses from first, server included

	mu sync.Mutex
	// byClient, byAddr and byHW index the same leases; guarded by mu.
	byClient map[string]*Lease
	byAddr   map[netip.Addr]*Lease
	byHW     map[string]*Lease
}

// NewTable returns an empty table over prefix, an IPv4 prefix of at most
// 30 bits, whose address server is never handed out.
func NewTable(prefix netip.Prefix, server netip.Addr) (*Table, error) {
	prefix = prefix.Masked()
	if !prefix.Addr().Is4() || prefix.Bits() > 30 || prefix.Bits() < 8 {
		return nil, fmt.Errorf("new lease table: %v: need an IPv4 prefix of 8 to 30 bits", prefix)
	}
	if !prefix.Contains(server) {
		return nil, fmt.Errorf("new lease table: server %v outside %v", server, prefix)
	}
	return &Table{
		prefix:   prefix,
		server:   server,
		first:    toU32(prefix.Addr()) + 1,
		size:     uint32(1)<<(32-prefix.Bits()) - 2,
		byClient: map[string]*Lease{},
		byAddr:   map[netip.Addr]*Lease{},
		byHW:     map[string]*Lease{},
	}, nil
}

// Prefix returns the table's prefix.
func (t *Table) Prefix() netip.Prefix { return t.prefix }

// InPool reports whether a may be leased: inside the prefix, neither the
// network nor the broadcast address, and not the server's.
func (t *Table) InPool(a netip.Addr) bool {
	if !a.Is4() || !t.prefix.Contains(a) || a == t.server {
		return false
	}
	off := toU32(a) - t.first
	return off < t.size
}

// Lookup returns the lease of client, expired or not.
func (t *Table) Lookup(client string) (Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.byClient[client]
	if !ok {
		return Lease{}, false
	}
	return *l, true
}

// Holder returns the lease holding a that has not expired at now.
func (t *Table) Holder(a netip.Addr, now time.Time) (Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.byAddr[a]
	if !ok || !l.Expiry.After(now) {
		return Lease{}, false
	}
	return *l, true
}

// Available reports whether client may have a at now: a is in the pool
// and no other client holds an unexpired lease on it.
func (t *Table) Available(client string, a netip.Addr, now time.Time) bool {
	if !t.InPool(a) {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.freeForLocked(client, a, now)
}

func (t *Table) freeForLocked(client string, a netip.Addr, now time.Time) bool {
	l, ok := t.byAddr[a]
	return !ok || l.ClientID == client || !l.Expiry.After(now)
}

// Pick returns an address for client without reserving it: its own lease's
// address if still free, else the first free address probing forward from
// a hash of the client identifier. It returns false when the pool is full.
func (t *Table) Pick(client string, now time.Time) (netip.Addr, bool) {
	return t.PickAvoiding(client, now, nil)
}

// PickAvoiding is Pick that passes over free addresses for which avoid
// (if not nil) returns true, unless no other free address is left.
func (t *Table) PickAvoiding(client string, now time.Time, avoid func(netip.Addr) bool) (netip.Addr, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.byClient[client]; ok && t.freeForLocked(client, l.Addr, now) {
		return l.Addr, true
	}
	start := hashClient(client) % t.size
	var fallback netip.Addr
	for i := uint32(0); i < t.size; i++ {
		a := fromU32(t.first + (start+i)%t.size)
		if a == t.server || !t.freeForLocked(client, a, now) {
			continue
		}
		if avoid == nil || !avoid(a) {
			return a, true
		}
		if !fallback.IsValid() {
			fallback = a
		}
	}
	return fallback, fallback.IsValid()
}

// Bind records l, replacing the client's previous lease and any expired
// lease on the same address. It fails when the address is outside the
// pool or held by another client.
func (t *Table) Bind(l Lease, now time.Time) error {
	if !t.InPool(l.Addr) {
		return fmt.Errorf("bind %v: %w", l.Addr, ErrNotInPool)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.freeForLocked(l.ClientID, l.Addr, now) {
		return fmt.Errorf("bind %v: %w", l.Addr, ErrTaken)
	}
	t.bindLocked(l)
	return nil
}

func (t *Table) bindLocked(l Lease) {
	if old, ok := t.byClient[l.ClientID]; ok && l.ClientID != declinedClient {
		t.dropLocked(old)
	}
	if old, ok := t.byAddr[l.Addr]; ok {
		t.dropLocked(old)
	}
	n := l
	if l.ClientID != declinedClient {
		t.byClient[l.ClientID] = &n
		if l.HWAddr != "" {
			t.byHW[l.HWAddr] = &n
		}
	}
	t.byAddr[l.Addr] = &n
}

// dropLocked removes l from every index that points to it.
func (t *Table) dropLocked(l *Lease) {
	if t.byAddr[l.Addr] == l {
		delete(t.byAddr, l.Addr)
	}
	if t.byClient[l.ClientID] == l {
		delete(t.byClient, l.ClientID)
	}
	if t.byHW[l.HWAddr] == l {
		delete(t.byHW, l.HWAddr)
	}
}

// HoldsHW reports whether the client with hardware address hw (as
// net.HardwareAddr.String prints it) has a lease unexpired at now.
func (t *Table) HoldsHW(hw string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.byHW[hw]
	return ok && l.Expiry.After(now)
}

// Release ends client's lease if it is on a, and reports whether it did.
func (t *Table) Release(client string, a netip.Addr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.byClient[client]
	if !ok || l.Addr != a {
		return false
	}
	t.dropLocked(l)
	return true
}

// Decline ends client's lease on a, if it holds one, and blocks a until
// until; it reports whether it did.
func (t *Table) Decline(client string, a netip.Addr, until time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.byClient[client]
	if !ok || l.Addr != a {
		return false
	}
	t.dropLocked(l)
	t.bindLocked(Lease{ClientID: declinedClient, Addr: a, Expiry: until})
	return true
}

// Expire drops leases that ended more than grace before now, so their
// clients lose their claim to get the same address back.
func (t *Table) Expire(now time.Time, grace time.Duration) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, l := range t.byAddr {
		if l.Expiry.Add(grace).Before(now) {
			t.dropLocked(l)
			n++
		}
	}
	return n
}

// Len returns the number of leases, expired ones included.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byAddr)
}

// All returns a copy of every lease, sorted by address.
func (t *Table) All() []Lease {
	t.mu.Lock()
	out := make([]Lease, 0, len(t.byAddr))
	for _, l := range t.byAddr {
		out = append(out, *l)
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.Less(out[j].Addr) })
	return out
}

func hashClient(client string) uint32 {
	h := fnv.New64a()
	h.Write([]byte(client))
	s := h.Sum64()
	return uint32(s>>32) ^ uint32(s)
}

func toU32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func fromU32(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}
