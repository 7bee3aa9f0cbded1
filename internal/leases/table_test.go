package leases

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestTable(t *testing.T, prefix string) *Table {
	t.Helper()
	p := netip.MustParsePrefix(prefix)
	tb, err := NewTable(p, p.Addr().Next())
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestNewTableRejects(t *testing.T) {
	tests := []struct{ prefix, server string }{
		{"fd00::/64", "fd00::1"},
		{"10.0.0.0/31", "10.0.0.1"},
		{"10.0.0.0/28", "10.0.1.1"},
		{"10.0.0.0/4", "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			if _, err := NewTable(netip.MustParsePrefix(tt.prefix), netip.MustParseAddr(tt.server)); err == nil {
				t.Fatal("NewTable succeeded")
			}
		})
	}
}

func TestInPool(t *testing.T) {
	tb := newTestTable(t, "10.0.0.0/28")
	tests := map[string]bool{
		"10.0.0.0": false, "10.0.0.1": false, "10.0.0.2": true,
		"10.0.0.14": true, "10.0.0.15": false, "10.0.0.16": false,
	}
	for a, want := range tests {
		if got := tb.InPool(netip.MustParseAddr(a)); got != want {
			t.Errorf("InPool(%s) = %v, want %v", a, got, want)
		}
	}
}

func TestPickFillsPoolWithoutReserving(t *testing.T) {
	tb := newTestTable(t, "10.0.0.0/28")
	exp := t0.Add(time.Hour)
	seen := map[netip.Addr]bool{}
	for i := 0; i < 13; i++ {
		c := string(rune('a' + i))
		a, ok := tb.Pick(c, t0)
		if !ok {
			t.Fatalf("client %d: pool full", i)
		}
		again, _ := tb.Pick(c, t0)
		if again != a {
			t.Fatalf("Pick not stable: %v then %v", a, again)
		}
		if err := tb.Bind(Lease{ClientID: c, Addr: a, Expiry: exp}, t0); err != nil {
			t.Fatal(err)
		}
		seen[a] = true
	}
	if len(seen) != 13 {
		t.Fatalf("got %d distinct addresses, want 13", len(seen))
	}
	if a, ok := tb.Pick("z", t0); ok {
		t.Fatalf("Pick on a full pool gave %v", a)
	}
	if a, ok := tb.Pick("z", exp.Add(time.Second)); !ok || !tb.InPool(a) {
		t.Fatalf("Pick after expiry: %v %v", a, ok)
	}
}

func TestBindReleaseDecline(t *testing.T) {
	tb := newTestTable(t, "10.0.0.0/28")
	a := netip.MustParseAddr("10.0.0.5")
	exp := t0.Add(time.Hour)
	if err := tb.Bind(Lease{ClientID: "a", Addr: a, Expiry: exp}, t0); err != nil {
		t.Fatal(err)
	}
	if err := tb.Bind(Lease{ClientID: "b", Addr: a, Expiry: exp}, t0); !errors.Is(err, ErrTaken) {
		t.Fatalf("Bind of a taken address: %v", err)
	}
	if err := tb.Bind(Lease{ClientID: "b", Addr: netip.MustParseAddr("10.0.0.1")}, t0); !errors.Is(err, ErrNotInPool) {
		t.Fatalf("Bind of the server address: %v", err)
	}
	if tb.Release("b", a) || tb.Release("a", a.Next()) {
		t.Fatal("Release with the wrong client or address succeeded")
	}
	if !tb.Release("a", a) || tb.Len() != 0 {
		t.Fatal("Release failed")
	}
	_ = tb.Bind(Lease{ClientID: "a", Addr: a, Expiry: exp}, t0)
	if !tb.Decline("a", a, t0.Add(time.Minute)) {
		t.Fatal("Decline failed")
	}
	if tb.Available("b", a, t0) || !tb.Available("b", a, t0.Add(2*time.Minute)) {
		t.Fatal("declined address not blocked for its time")
	}
	if _, ok := tb.Lookup("a"); ok {
		t.Fatal("declining client kept its lease")
	}
}

func TestRebindMovesClient(t *testing.T) {
	tb := newTestTable(t, "10.0.0.0/28")
	exp := t0.Add(time.Hour)
	_ = tb.Bind(Lease{ClientID: "a", Addr: netip.MustParseAddr("10.0.0.5"), Expiry: exp}, t0)
	_ = tb.Bind(Lease{ClientID: "a", Addr: netip.MustParseAddr("10.0.0.6"), Expiry: exp}, t0)
	want := []Lease{{ClientID: "a", Addr: netip.MustParseAddr("10.0.0.6"), Expiry: exp}}
	if diff := cmp.Diff(want, tb.All(), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Fatalf("-want +got:\n%s", diff)
	}
}

func TestExpire(t *testing.T) {
	tb := newTestTable(t, "10.0.0.0/24")
	_ = tb.Bind(Lease{ClientID: "old", Addr: netip.MustParseAddr("10.0.0.5"), Expiry: t0}, t0.Add(-time.Hour))
	_ = tb.Bind(Lease{ClientID: "new", Addr: netip.MustParseAddr("10.0.0.6"), Expiry: t0.Add(time.Hour)}, t0)
	if n := tb.Expire(t0.Add(time.Minute), 0); n != 1 || tb.Len() != 1 {
		t.Fatalf("Expire dropped %d, %d left", n, tb.Len())
	}
}

func TestPickAvoiding(t *testing.T) {
	tb := newTestTable(t, "10.0.0.0/29")
	first, _ := tb.Pick("a", t0)
	got, ok := tb.PickAvoiding("a", t0, func(a netip.Addr) bool { return a == first })
	if !ok || got == first {
		t.Fatalf("PickAvoiding gave %v, %v", got, ok)
	}
	got, ok = tb.PickAvoiding("a", t0, func(netip.Addr) bool { return true })
	if !ok || got != first {
		t.Fatalf("PickAvoiding with all avoided gave %v, %v; want the fallback %v", got, ok, first)
	}
}

func TestHoldsHW(t *testing.T) {
	tb := newTestTable(t, "10.0.0.0/28")
	a := netip.MustParseAddr("10.0.0.5")
	_ = tb.Bind(Lease{ClientID: "a", HWAddr: "02:00:00:00:00:01", Addr: a, Expiry: t0.Add(time.Hour)}, t0)
	if !tb.HoldsHW("02:00:00:00:00:01", t0) || tb.HoldsHW("02:00:00:00:00:02", t0) {
		t.Fatal("HoldsHW wrong before release")
	}
	if tb.HoldsHW("02:00:00:00:00:01", t0.Add(2*time.Hour)) {
		t.Fatal("HoldsHW true for an expired lease")
	}
	tb.Release("a", a)
	if tb.HoldsHW("02:00:00:00:00:01", t0) {
		t.Fatal("HoldsHW true after release")
	}
}
