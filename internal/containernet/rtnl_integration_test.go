package containernet

import (
	"errors"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/rtnl"
	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationRTNL drives the route netlink client in a throwaway
// network namespace: a zone bridge made and found again, an altname,
// the link list and the bridge's removal.
func TestIntegrationRTNL(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	err := ns.Do(func() error {
		h, err := rtnl.Open()
		if err != nil {
			return err
		}
		defer h.Close()
		if _, err := h.LinkByName("nosuch0"); !errors.Is(err, rtnl.ErrLinkNotFound) {
			t.Errorf("linkByName(nosuch0) = %v, want rtnl.ErrLinkNotFound", err)
		}
		br, created, err := zoneBridge(h, "vz-rtnl")
		if err != nil || !created || br.Kind != "bridge" || br.Index == 0 {
			t.Fatalf("zoneBridge = %+v, %v, %v; want a new bridge", br, created, err)
		}
		if again, created, err := zoneBridge(h, "vz-rtnl"); err != nil || created || again.Index != br.Index {
			t.Errorf("zoneBridge again = %+v, %v, %v; want the same bridge", again, created, err)
		}
		long := "vz-rtnl-with-a-long-altname"
		if err := h.AddAltName(br.Index, long); err != nil {
			t.Fatal(err)
		}
		if l, err := h.LinkByName(long); err != nil || l.Index != br.Index || l.Name != "vz-rtnl" {
			t.Errorf("linkByName(altname) = %+v, %v; want the bridge", l, err)
		}
		links, err := h.Links()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, l := range links {
			names = append(names, l.Name)
		}
		if !slices.Contains(names, "lo") || !slices.Contains(names, "vz-rtnl") {
			t.Errorf("links = %v, want lo and vz-rtnl", names)
		}
		if err := removeZoneIfEmpty(h, "vz-rtnl"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.LinkByName("vz-rtnl"); !errors.Is(err, rtnl.ErrLinkNotFound) {
			t.Errorf("after removal: %v, want rtnl.ErrLinkNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationRTNLVethEcho creates a veth pair (both sides in a
// throwaway namespace) and checks the index the kernel echoed, if it
// echoes new links (Linux 6.3 on), against a lookup.
func TestIntegrationRTNLVethEcho(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	err := ns.Do(func() error {
		h, err := rtnl.Open()
		if err != nil {
			return err
		}
		defer h.Close()
		mac := []byte{0x02, 0, 0, 0, 0, 1}
		peerMAC := []byte{0x02, 0, 0, 0, 0, 2}
		index, err := h.AddVeth("ve-echo", mac, "host-echo", peerMAC, unix.Gettid())
		if err != nil {
			return err
		}
		l, err := h.LinkByName("ve-echo")
		if err != nil {
			return err
		}
		if index == 0 {
			t.Logf("the kernel did not echo the new link; index %d looked up", l.Index)
		} else if index != l.Index {
			t.Errorf("echoed index %d, lookup %d", index, l.Index)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
