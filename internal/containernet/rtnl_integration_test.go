package containernet

import (
	"errors"
	"slices"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
	"golang.org/x/sys/unix"
)

// TestIntegrationRTNL drives the route netlink client in a throwaway
// network namespace: a zone bridge made and found again, an altname,
// the link list and the bridge's removal.
func TestIntegrationRTNL(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	err := ns.Do(func() error {
		h, err := openRTNL()
		if err != nil {
			return err
		}
		defer h.close()
		if _, err := h.linkByName("nosuch0"); !errors.Is(err, errLinkNotFound) {
			t.Errorf("linkByName(nosuch0) = %v, want errLinkNotFound", err)
		}
		br, created, err := zoneBridge(h, "vz-rtnl")
		if err != nil || !created || br.kind != "bridge" || br.index == 0 {
			t.Fatalf("zoneBridge = %+v, %v, %v; want a new bridge", br, created, err)
		}
		if again, created, err := zoneBridge(h, "vz-rtnl"); err != nil || created || again.index != br.index {
			t.Errorf("zoneBridge again = %+v, %v, %v; want the same bridge", again, created, err)
		}
		long := "vz-rtnl-with-a-long-altname"
		if err := h.addAltName(br.index, long); err != nil {
			t.Fatal(err)
		}
		if l, err := h.linkByName(long); err != nil || l.index != br.index || l.name != "vz-rtnl" {
			t.Errorf("linkByName(altname) = %+v, %v; want the bridge", l, err)
		}
		links, err := h.links()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, l := range links {
			names = append(names, l.name)
		}
		if !slices.Contains(names, "lo") || !slices.Contains(names, "vz-rtnl") {
			t.Errorf("links = %v, want lo and vz-rtnl", names)
		}
		if err := removeZoneIfEmpty(h, "vz-rtnl"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.linkByName("vz-rtnl"); !errors.Is(err, errLinkNotFound) {
			t.Errorf("after removal: %v, want errLinkNotFound", err)
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
		h, err := openRTNL()
		if err != nil {
			return err
		}
		defer h.close()
		mac := []byte{0x02, 0, 0, 0, 0, 1}
		peerMAC := []byte{0x02, 0, 0, 0, 0, 2}
		index, err := h.addVeth("ve-echo", mac, "host-echo", peerMAC, unix.Gettid())
		if err != nil {
			return err
		}
		l, err := h.linkByName("ve-echo")
		if err != nil {
			return err
		}
		if index == 0 {
			t.Logf("the kernel did not echo the new link; index %d looked up", l.index)
		} else if index != l.index {
			t.Errorf("echoed index %d, lookup %d", index, l.index)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
