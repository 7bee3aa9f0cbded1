package containernet

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/netwatch"
	"github.com/berth-dev/berth/internal/testbed"
)

// leaseScript is udhcpc's script in the image: it configures the lease
// and remembers the router.
const leaseScript = `#!/bin/sh
case "$1" in bound|renew)
	ip addr add "$ip/$mask" dev "$interface"
	echo "${router%% *}" > /tmp/router
esac
`

// dhcpScript brings host0 up, leases an address from the host side and
// pings the router it was given.
const dhcpScript = `ip link set host0 up && udhcpc -i host0 -q -n -t 20 -T 1 -s /udhcpc.sh >/dev/null 2>&1 &&
ip -4 -o addr show dev host0 | awk '{print "lease", $4}' && ping -c 1 -W 5 "$(cat /tmp/router)" >/dev/null && echo reached`

// TestIntegrationDHCPFromNetwatch runs berthd's network manager
// (netwatch) in the test namespace and a container with -n: busybox
// udhcpc in the container leases an address from berth's DHCP server on
// ve-NAME and reaches the host side.
func TestIntegrationDHCPFromNetwatch(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	w, err := netwatch.New(netwatch.Config{NetNS: ns.Path, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	})
	img := testbed.BusyboxImage(t)
	if err := os.WriteFile(filepath.Join(img, "udhcpc.sh"), []byte(leaseScript), 0o755); err != nil {
		t.Fatal(err)
	}
	const name = "dhcpc"
	r := start(t, ns, spawnerEnv(nil), testbed.Binary(t, "berth-nspawn"),
		spawnerArgs(img, name, "-n", "/bin/sh", "-c", dhcpScript+"; echo done; read x; true")...)
	out := r.until(t, "done")
	if len(out) != 2 || out[1] != "reached" || !strings.HasPrefix(out[0], "lease ") {
		t.Fatalf("container output %q, want a lease and reached; stderr:\n%s", out, r.errb.String())
	}
	addr, err := netip.ParsePrefix(strings.TrimPrefix(out[0], "lease "))
	if err != nil {
		t.Fatal(err)
	}
	var link netwatch.Link
	for _, l := range w.Links() {
		if l.Name == "ve-"+name {
			link = l
		}
	}
	if !link.Subnet.Contains(addr.Addr()) || addr.Bits() != link.Subnet.Bits() {
		t.Errorf("leased %v, not in ve-%s's subnet %v", addr, name, link.Subnet)
	}
	leased := false
	for _, l := range link.Leases {
		leased = leased || l.Addr == addr.Addr()
	}
	if !leased {
		t.Errorf("berth's DHCP server has no lease for %v: %+v", addr, link.Leases)
	}
	if code := r.stop(t); code != 0 {
		t.Fatalf("exit %d: %s", code, r.errb.String())
	}
}
