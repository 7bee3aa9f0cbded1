package netwatch

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/internal/kernel"
)

// ulaFile holds the host's random IPv6 ULA /48 (RFC 4193) in the state
// directory; each link gets a /64 of it.
const ulaFile = "ula48"

// ula returns the host's ULA /48, creating and remembering it on first
// use; it is read from the state directory once per Watcher.
func (w *Watcher) ula() (netip.Prefix, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ula48.IsValid() {
		p, err := w.loadULA()
		if err != nil {
			return netip.Prefix{}, err
		}
		w.ula48 = p
	}
	return w.ula48, nil
}

// loadULA reads the host's ULA /48 from the state directory, or makes and
// writes a new one.
func (w *Watcher) loadULA() (netip.Prefix, error) {
	path := filepath.Join(w.cfg.StateDir, ulaFile)
	if b, err := os.ReadFile(path); err == nil {
		if p, err := netip.ParsePrefix(strings.TrimSpace(string(b))); err == nil && p.Bits() == 48 && isULA(p.Addr()) {
			return p, nil
		}
	}
	var a [16]byte
	a[0] = 0xfd
	// The kernel's random source directly: crypto/rand would add its
	// generator and FIPS self-tests to berthd for 5 bytes, once per host.
	if err := kernel.Random(a[1:6]); err != nil {
		return netip.Prefix{}, fmt.Errorf("random ULA prefix: %w", err)
	}
	p := netip.PrefixFrom(netip.AddrFrom16(a), 48)
	if err := os.WriteFile(path, []byte(p.String()+"\n"), 0o600); err != nil {
		return netip.Prefix{}, err
	}
	return p, nil
}

func isULA(a netip.Addr) bool { return a.Is6() && a.As16()[0] == 0xfd }

// subnet6 picks link's /64 in ula: the subnet id hashed from the name,
// probing forward past subnets in taken.
func subnet6(ula netip.Prefix, link string, taken map[netip.Prefix]bool) netip.Prefix {
	h := fnv.New32a()
	h.Write([]byte(link))
	id := uint16(h.Sum32())
	for i := 0; i < 1<<16; i++ {
		a := ula.Addr().As16()
		a[6], a[7] = byte((id+uint16(i))>>8), byte(id+uint16(i))
		p := netip.PrefixFrom(netip.AddrFrom16(a), 64)
		if !taken[p] {
			return p
		}
	}
	return netip.Prefix{}
}

// hostAddr6 is the host side's address in a link's /64: ::1.
func hostAddr6(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }
