package addrpool

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/rtnl"
	"github.com/berth-dev/berth/internal/testbed"
)

func TestIntegrationInUseAvoided(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	ns.Exec(t, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	ns.Exec(t, "ip", "link", "set", "d0", "up")
	ns.Exec(t, "ip", "addr", "add", "192.168.0.1/24", "dev", "d0")
	ns.Exec(t, "ip", "route", "add", "192.168.1.0/24", "via", "192.168.0.2")
	ns.Exec(t, "ip", "route", "add", "192.168.2.0/24", "dev", "d0", "table", "100")
	ns.Exec(t, "ip", "route", "add", "default", "via", "192.168.0.254")
	var inUse []netip.Prefix
	if err := ns.Do(func() (err error) { inUse, err = InUse(nil); return err }); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"192.168.0.1/24", "192.168.1.0/24", "192.168.2.0/24", "127.0.0.1/8"} {
		found := false
		for _, p := range inUse {
			found = found || p.String() == want
		}
		if !found {
			t.Errorf("InUse lacks %s: %v", want, inUse)
		}
	}
	a := New(WithRand(func(uint64) uint64 { return 0 }))
	p, err := a.Allocate("ve-x", VethBits, inUse, netip.Prefix{})
	if err != nil {
		t.Fatal(err)
	}
	if p.String() != "192.168.3.0/28" {
		t.Fatalf("allocated %v, want 192.168.3.0/28", p)
	}
}

// TestIntegrationInUseWith checks that InUseWith, given every address of
// the namespace (IPv6 ones too), finds what InUse finds.
func TestIntegrationInUseWith(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	ns.Exec(t, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	ns.Exec(t, "ip", "link", "set", "d0", "up")
	ns.Exec(t, "ip", "addr", "add", "192.168.0.1/24", "dev", "d0")
	ns.Exec(t, "ip", "addr", "add", "fd00::1/64", "dev", "d0")
	ns.Exec(t, "ip", "route", "add", "192.168.1.0/24", "via", "192.168.0.2")
	var want, got []netip.Prefix
	err := ns.Do(func() (err error) {
		if want, err = InUse(nil); err != nil {
			return err
		}
		h, err := rtnl.Open()
		if err != nil {
			return err
		}
		defer h.Close()
		addrs, err := h.Addrs(unix.AF_UNSPEC)
		if err != nil {
			return err
		}
		got, err = InUseWith(h, addrs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	less := func(a, b netip.Prefix) bool { return a.String() < b.String() }
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(less), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("InUseWith against InUse (-want +got):\n%s", diff)
	}
}
