package netwatch

import (
	"net/netip"
	"testing"
)

func TestULA(t *testing.T) {
	w, err := New(Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.ula()
	if err != nil || p.Bits() != 48 || !isULA(p.Addr()) {
		t.Fatalf("ula() = %v, %v", p, err)
	}
	if again, _ := w.ula(); again != p {
		t.Fatalf("ula not remembered: %v then %v", p, again)
	}
	next, err := New(Config{StateDir: w.cfg.StateDir}) // a restarted daemon
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := next.ula(); again != p {
		t.Fatalf("ula not kept in the state directory: %v then %v", p, again)
	}
}

func TestSubnet6(t *testing.T) {
	ula := netip.MustParsePrefix("fd11:2233:4455::/48")
	a := subnet6(ula, "ve-a", nil)
	if a.Bits() != 64 || !ula.Contains(a.Addr()) {
		t.Fatalf("subnet6 = %v", a)
	}
	if again := subnet6(ula, "ve-a", nil); again != a {
		t.Fatalf("subnet6 not stable: %v then %v", a, again)
	}
	if other := subnet6(ula, "ve-a", map[netip.Prefix]bool{a: true}); other == a || !ula.Contains(other.Addr()) {
		t.Fatalf("subnet6 with %v taken = %v", a, other)
	}
	if h := hostAddr6(a); !a.Contains(h) || h == a.Addr() {
		t.Fatalf("hostAddr6 = %v", h)
	}
}
