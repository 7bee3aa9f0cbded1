package netwatch

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// startWatcher runs a Watcher on host until the returned stop is called
// or t ends.
func startWatcher(t *testing.T, host *testbed.NetNS, stateDir string) (*Watcher, func()) {
	t.Helper()
	w, err := New(Config{NetNS: host.Path, StateDir: stateDir, DNS: []netip.Addr{netip.MustParseAddr("192.0.2.53")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return w, stop
}

// eventually polls cond until it holds, failing t after a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func linkNamed(w *Watcher, name string) (Link, bool) {
	for _, l := range w.Links() {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

// udhcpc runs busybox udhcpc on ifname in ns, configuring the lease, and
// returns the address.
func udhcpc(t *testing.T, ns *testbed.NetNS, ifname string) netip.Addr {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "lease")
	script := filepath.Join(dir, "script")
	body := fmt.Sprintf(`#!/bin/sh
case "$1" in bound|renew)
	ip addr add "$ip/$mask" dev "$interface"; ip route replace default via "$router"
	echo "$ip" > %q ;;
esac
`, out)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name, testbed.RequireTool(t, "udhcpc"),
		"-f", "-q", "-n", "-t", "20", "-T", "1", "-i", ifname, "-s", script)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("udhcpc: %v\n%s", err, o)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return netip.MustParseAddr(strings.TrimSpace(string(b)))
}

func TestIntegrationVethConfiguredAndReleased(t *testing.T) {
	testbed.RequireRoot(t)
	host, ctr := testbed.NewNetNS(t), testbed.NewNetNS(t)
	w, _ := startWatcher(t, host, t.TempDir())
	host.Veth(t, "ve-one", ctr, "host0")
	addr := udhcpc(t, ctr, "host0")
	l, ok := linkNamed(w, "ve-one")
	if !ok || l.Subnet.Bits() != 28 || !l.Subnet.Contains(addr) || l.HostAddr != l.Subnet.Addr().Next() {
		t.Fatalf("link %+v, container address %v", l, addr)
	}
	if len(l.Leases) != 1 || l.Leases[0].Addr != addr {
		t.Fatalf("leases %+v", l.Leases)
	}
	if got := w.Addresses(l.Index, time.Now()); len(got) != 1 || got[0] != addr {
		t.Fatalf("Addresses(%d) = %v", l.Index, got)
	}
	for _, ns := range []*testbed.NetNS{host, ctr} {
		if out := ns.Exec(t, "ip", "-6", "addr", "show", "scope", "link"); !strings.Contains(out, "fe80::") {
			t.Fatalf("no IPv6 link-local address in %s:\n%s", ns.Name, out)
		}
	}
	ctr.Exec(t, "busybox", "ping", "-c", "1", "-W", "5", l.HostAddr.String())
	if out := host.Exec(t, "nft", "list", "table", "inet", "berth"); !strings.Contains(out, l.Subnet.String()) {
		t.Fatalf("subnet not masqueraded:\n%s", out)
	}
	host.Exec(t, "ip", "link", "del", "ve-one")
	eventually(t, "the link to be released", func() bool { return len(w.Links()) == 0 })
	if len(w.pool.Held()) != 0 {
		t.Fatalf("subnet still held: %v", w.pool.Held())
	}
	if out := host.Exec(t, "nft", "list", "table", "inet", "berth"); strings.Contains(out, l.Subnet.String()) {
		t.Fatalf("subnet still masqueraded:\n%s", out)
	}
}

// TestIntegrationRenamedLink: a managed link renamed to a name berth does
// not manage is released; renamed to another container's name, it is
// configured under that name; state changes in between change nothing.
func TestIntegrationRenamedLink(t *testing.T) {
	testbed.RequireRoot(t)
	host, ctr := testbed.NewNetNS(t), testbed.NewNetNS(t)
	w, _ := startWatcher(t, host, t.TempDir())
	host.Veth(t, "ve-old", ctr, "host0")
	eventually(t, "ve-old configured", func() bool { _, ok := linkNamed(w, "ve-old"); return ok })
	host.Exec(t, "ip", "link", "set", "ve-old", "down")
	host.Exec(t, "ip", "link", "set", "ve-old", "up")
	host.Exec(t, "ip", "link", "set", "ve-old", "down")
	host.Exec(t, "ip", "link", "set", "ve-old", "name", "other0")
	eventually(t, "the renamed link released", func() bool { return len(w.Links()) == 0 })
	host.Exec(t, "ip", "link", "set", "other0", "name", "ve-new")
	eventually(t, "ve-new configured", func() bool { _, ok := linkNamed(w, "ve-new"); return ok })
	if got := w.Links(); len(got) != 1 {
		t.Fatalf("links %+v", got)
	}
}

func TestIntegrationAvoidsPrefixesInUse(t *testing.T) {
	testbed.RequireRoot(t)
	host, ctr := testbed.NewNetNS(t), testbed.NewNetNS(t)
	host.Exec(t, "ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan1")
	host.Exec(t, "ip", "link", "set", "lan0", "up")
	host.Exec(t, "ip", "addr", "add", "192.168.7.1/17", "dev", "lan0")
	host.Exec(t, "ip", "route", "add", "192.168.128.0/17", "via", "192.168.7.2")
	w, _ := startWatcher(t, host, t.TempDir())
	host.Veth(t, "ve-two", ctr, "host0")
	host.Exec(t, "ip", "link", "add", "lanx", "type", "bridge")
	eventually(t, "the link to be configured", func() bool { _, ok := linkNamed(w, "ve-two"); return ok })
	l, _ := linkNamed(w, "ve-two")
	if !netip.MustParsePrefix("172.16.0.0/12").Contains(l.Subnet.Addr()) {
		t.Fatalf("subnet %v, want one in 172.16.0.0/12", l.Subnet)
	}
	if len(w.Links()) != 1 {
		t.Fatalf("links %+v", w.Links())
	}
	// No DHCP on links that are not berth's.
	host.Exec(t, "ip", "link", "set", "lan1", "up")
	cmd := host.Command(testbed.RequireTool(t, "udhcpc"), "-f", "-q", "-n", "-t", "2", "-T", "1", "-i", "lan1", "-s", "/bin/true")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("a client on a foreign link got a lease:\n%s", out)
	}
}

func TestIntegrationZoneBridge(t *testing.T) {
	testbed.RequireRoot(t)
	host := testbed.NewNetNS(t)
	w, _ := startWatcher(t, host, t.TempDir())
	host.Exec(t, "ip", "link", "add", "vz-zone", "type", "bridge")
	var ctrs []*testbed.NetNS
	var addrs []netip.Addr
	for i := 0; i < 3; i++ {
		c := testbed.NewNetNS(t)
		vb := fmt.Sprintf("vb-m%d", i)
		host.Veth(t, vb, c, "host0")
		host.Exec(t, "ip", "link", "set", vb, "master", "vz-zone", "up")
		ctrs = append(ctrs, c)
	}
	eventually(t, "the zone to be configured", func() bool { _, ok := linkNamed(w, "vz-zone"); return ok })
	for _, c := range ctrs {
		addrs = append(addrs, udhcpc(t, c, "host0"))
	}
	z, _ := linkNamed(w, "vz-zone")
	if z.Subnet.Bits() != 24 || !z.Zone || len(z.Leases) != 3 {
		t.Fatalf("zone %+v", z)
	}
	for i, c := range ctrs {
		c.Exec(t, "busybox", "ping", "-c", "1", "-W", "5", z.HostAddr.String())
		c.Exec(t, "busybox", "ping", "-c", "1", "-W", "5", addrs[(i+1)%3].String())
	}
}

func TestIntegrationRestartKeepsAddresses(t *testing.T) {
	testbed.RequireRoot(t)
	host, ctr := testbed.NewNetNS(t), testbed.NewNetNS(t)
	state := t.TempDir()
	w, stop := startWatcher(t, host, state)
	host.Veth(t, "ve-re", ctr, "host0")
	first := udhcpc(t, ctr, "host0")
	before, _ := linkNamed(w, "ve-re")
	stop()
	ctr.Exec(t, "ip", "addr", "flush", "dev", "host0")
	w2, _ := startWatcher(t, host, state)
	eventually(t, "the link to be adopted", func() bool { _, ok := linkNamed(w2, "ve-re"); return ok })
	after, _ := linkNamed(w2, "ve-re")
	if after.Subnet != before.Subnet || len(after.Leases) != 1 {
		t.Fatalf("after restart: %+v, before: %+v", after, before)
	}
	if again := udhcpc(t, ctr, "host0"); again != first {
		t.Fatalf("address after restart %v, want %v", again, first)
	}
}

func TestManageable(t *testing.T) {
	tests := []struct {
		name, kind string
		ok, zone   bool
	}{
		{"ve-box", "veth", true, false},
		{"vz-zone", "bridge", true, true},
		{"ve-box", "bridge", false, false},
		{"vz-zone", "veth", false, false},
		{"vb-box", "veth", false, false},
		{"ve-", "veth", false, false},
		{"eth0", "veth", false, false},
	}
	for _, tt := range tests {
		if ok, zone := Manageable(tt.name, tt.kind); ok != tt.ok || zone != tt.zone {
			t.Errorf("Manageable(%q, %q) = %v, %v", tt.name, tt.kind, ok, zone)
		}
	}
}
