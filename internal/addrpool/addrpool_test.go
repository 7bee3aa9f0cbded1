package addrpool

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// seq is a "random" source that counts up from 0.
func seq() func(uint64) uint64 {
	i := uint64(0)
	return func(n uint64) uint64 { v := i % n; i++; return v }
}

func TestAllocate(t *testing.T) {
	tests := []struct {
		name   string
		bits   int
		inUse  []string
		held   map[string]string
		prefer string
		want   string
	}{
		{"first veth", 28, nil, nil, "", "192.168.0.0/28"},
		{"first zone", 24, nil, nil, "", "192.168.0.0/24"},
		{"skips address", 28, []string{"192.168.0.5/24"}, nil, "", "192.168.1.0/28"},
		{"skips route", 28, []string{"192.168.0.0/23"}, nil, "", "192.168.2.0/28"},
		{"ignores default route", 28, []string{"0.0.0.0/0"}, nil, "", "192.168.0.0/28"},
		{"skips held", 28, nil, map[string]string{"ve-a": "192.168.0.0/28"}, "", "192.168.0.16/28"},
		{"next pool", 24, []string{"192.168.0.0/16"}, nil, "", "172.16.0.0/24"},
		{"last pool", 24, []string{"192.168.0.0/16", "172.16.0.0/12"}, nil, "", "10.0.0.0/24"},
		{"prefer", 28, nil, nil, "10.4.4.16/28", "10.4.4.16/28"},
		{"prefer taken", 28, []string{"10.4.4.20/32"}, nil, "10.4.4.16/28", "192.168.0.0/28"},
		{"prefer public", 28, nil, nil, "8.8.8.0/28", "192.168.0.0/28"},
		{"prefer wrong size", 24, nil, nil, "10.4.4.16/28", "192.168.0.0/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(WithRand(func(uint64) uint64 { return 0 }))
			for k, p := range tt.held {
				if err := a.Hold(k, pfx(p)); err != nil {
					t.Fatal(err)
				}
			}
			var inUse []netip.Prefix
			for _, s := range tt.inUse {
				inUse = append(inUse, pfx(s))
			}
			var prefer netip.Prefix
			if tt.prefer != "" {
				prefer = pfx(tt.prefer)
			}
			got, err := a.Allocate("ve-new", tt.bits, inUse, prefer)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Fatalf("got %v, want %s", got, tt.want)
			}
		})
	}
}

func TestAllocateDistinctAndStable(t *testing.T) {
	a := New(WithRand(seq()))
	seen := map[netip.Prefix]string{}
	for _, k := range []string{"ve-a", "ve-b", "ve-c", "vz-z"} {
		bits := VethBits
		if k == "vz-z" {
			bits = ZoneBits
		}
		p, err := a.Allocate(k, bits, nil, netip.Prefix{})
		if err != nil {
			t.Fatal(err)
		}
		for q, other := range seen {
			if q.Overlaps(p) {
				t.Fatalf("%s got %v overlapping %s's %v", k, p, other, q)
			}
		}
		seen[p] = k
		if again, _ := a.Allocate(k, bits, nil, netip.Prefix{}); again != p {
			t.Fatalf("second Allocate for %s: %v, want %v", k, again, p)
		}
	}
	a.Release("ve-a")
	if _, ok := a.Held()["ve-a"]; ok || len(a.Held()) != 3 {
		t.Fatalf("held after release: %v", a.Held())
	}
}

func TestAllocateExhausted(t *testing.T) {
	a := New()
	_, err := a.Allocate("ve-a", 28, string2prefixes("192.168.0.0/16", "172.16.0.0/12", "10.0.0.0/8"), netip.Prefix{})
	if !errors.Is(err, ErrExhausted) {
		t.Fatalf("err = %v", err)
	}
}

func string2prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, pfx(x))
	}
	return out
}

func TestHoldOverlap(t *testing.T) {
	a := New()
	if err := a.Hold("ve-a", pfx("10.0.0.0/24")); err != nil {
		t.Fatal(err)
	}
	if err := a.Hold("ve-b", pfx("10.0.0.16/28")); err == nil {
		t.Fatal("overlapping Hold succeeded")
	}
	if diff := cmp.Diff(map[string]string{"ve-a": "10.0.0.0/24"}, stringify(a.Held())); diff != "" {
		t.Fatalf("-want +got:\n%s", diff)
	}
}

func stringify(m map[string]netip.Prefix) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v.String()
	}
	return out
}

func TestHostAddr(t *testing.T) {
	if got := HostAddr(pfx("10.1.2.16/28")); got.String() != "10.1.2.17" {
		t.Fatalf("HostAddr = %v", got)
	}
}
