package dhcpserver

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/berth-dev/berth/internal/testbed"
)

// BenchmarkCompareBerthdDHCP runs perfdhcp against the DHCP server of a
// running berthd, on a ve-* link berthd configured itself (a /28), next to
// dnsmasq and kea-dhcp4 serving the same subnet and pool, one round each
// (BenchmarkCompareDHCP already takes most of go test's default ten
// minutes): the highest rate of clean four-way exchanges, their latency,
// and link-up to a bound lease for one udhcpc with the link's server
// already running (medians of the samples). berthd runs with
// BERTH_DHCP_ACCEPT_RELAYS=yes, since perfdhcp acts as a relay; perfdhcp
// simulates as many clients as the pool has addresses (clients holding a
// lease pass berthd's per-client rate limit). It also reports the time
// from creating a new ve-* link to udhcpc's lease on it, berthd
// configuring the link on the way (berthd_new_link_bound_ms).
func BenchmarkCompareBerthdDHCP(b *testing.B) {
	testbed.RequireRoot(b)
	d := startBenchBerthd(b)
	s, perf := d.site(b)
	targets := []target{d.target(s, perf)}
	for _, p := range benchPeers() {
		if p.name != "berth" {
			targets = append(targets, fresh(p, s))
		}
	}
	compare(b, s, targets, 1)
	var newLink []float64
	for range linkUpSamples {
		newLink = append(newLink, d.newLinkToBound(b))
	}
	b.ReportMetric(median(newLink), "berthd_new_link_bound_ms")
}

// benchBerthd is a berthd whose links live in ns.
type benchBerthd struct {
	ns    *testbed.NetNS
	links int // links made so far, for their names
}

// startBenchBerthd starts berthd on a private bus in a new namespace,
// answering relays, and stops it when b ends.
func startBenchBerthd(b *testing.B) *benchBerthd {
	d := &benchBerthd{ns: testbed.NewNetNS(b)}
	bus := testbed.StartBus(b)
	cmd := d.ns.Command(testbed.Binary(b, "berthd"), "--root", testbed.Paths(b).Root)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + bus.Address,
		"BERTH_BACKEND=embedded", "BERTH_DHCP_ACCEPT_RELAYS=yes"}
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	conn := bus.Conn(b)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var has bool
		_ = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.machine1").Store(&has)
		if has {
			return d
		}
		if time.Now().After(deadline) {
			b.Fatalf("berthd did not start:\n%s", log.String())
		}
	}
}

// newLink adds a ve-* veth to a new namespace (host0 there, up) and
// returns the namespace; the link is deleted when b ends.
func (d *benchBerthd) newLink(b *testing.B) (name string, cli *testbed.NetNS) {
	name, cli = d.nextName(b), testbed.NewNetNS(b)
	d.ns.Veth(b, name, cli, "host0")
	return name, cli
}

// nextName returns the name of a new link, deleted (if made) when b ends.
func (d *benchBerthd) nextName(b *testing.B) string {
	d.links++
	name := fmt.Sprintf("ve-perf%d", d.links)
	b.Cleanup(func() { _ = d.ns.Command("ip", "link", "del", name).Run() })
	return name
}

// configured waits for berthd to give link its address and returns its
// subnet.
func (d *benchBerthd) configured(b *testing.B, link string) netip.Prefix {
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		out, _ := d.ns.Command("ip", "-4", "-o", "addr", "show", "dev", link).Output()
		if f := strings.Fields(string(out)); len(f) > 3 && f[2] == "inet" {
			if p, err := netip.ParsePrefix(f[3]); err == nil {
				return p.Masked()
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("berthd never configured %s", link)
		}
	}
}

// site makes the link perfdhcp uses and returns its site, and the
// namespace with the relay address on host0.
func (d *benchBerthd) site(b *testing.B) (site, *testbed.NetNS) {
	link, cli := d.newLink(b)
	s := site{link: link, prefix: d.configured(b, link), lowRate: 20,
		rates: []int{10, 25, 50, 100, 250, 500, 1000, 2000, 4000, 8000}}
	first, last := s.pool()
	s.clients = int(last.As4()[3]-first.As4()[3]) + 1
	cli.Exec(b, "ip", "addr", "add", netip.PrefixFrom(s.relay(), s.prefix.Bits()).String(), "dev", "host0")
	return s, cli
}

// target is berthd as a target: perfdhcp on the site's link; udhcpc on a
// new link once berthd has configured it.
func (d *benchBerthd) target(s site, perf *testbed.NetNS) target {
	return target{name: "berthd", up: func(b *testing.B, relay bool) (*testbed.NetNS, func()) {
		if relay {
			return perf, func() {}
		}
		link, cli := d.newLink(b)
		d.configured(b, link)
		cli.Exec(b, "ip", "link", "set", "host0", "down")
		return cli, func() { _ = d.ns.Command("ip", "link", "del", link).Run() }
	}}
}

// newLinkToBound returns the milliseconds from adding a ve-* link (with
// netlink, its container side up at once) to udhcpc holding a lease from
// berthd on it.
func (d *benchBerthd) newLinkToBound(b *testing.B) float64 {
	udhcpc := testbed.RequireTool(b, "udhcpc")
	link, cli := d.nextName(b), testbed.NewNetNS(b)
	host, ctr := netlinkAt(b, d.ns), netlinkAt(b, cli)
	start := time.Now()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: link}, PeerName: "host0"}
	veth.PeerNamespace = netlink.NsFd(nsFd(b, cli))
	if err := host.LinkAdd(veth); err != nil {
		b.Fatalf("add %s: %v", link, err)
	}
	peer, err := ctr.LinkByName("host0")
	if err == nil {
		err = ctr.LinkSetUp(peer)
	}
	if err != nil {
		b.Fatalf("set host0 up: %v", err)
	}
	out, err := cli.Command(udhcpc, "-f", "-q", "-n", "-t", "20", "-T", "1", "-A", "1", "-i", "host0", "-s", "/bin/true").CombinedOutput()
	ms := float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		b.Fatalf("udhcpc on a new link: %v\n%s", err, out)
	}
	_ = host.LinkDel(veth)
	return ms
}

// nsFd opens ns, closed when b ends.
func nsFd(b *testing.B, ns *testbed.NetNS) int {
	h, err := netns.GetFromPath(ns.Path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return int(h)
}

// netlinkAt returns a netlink handle in ns, closed when b ends.
func netlinkAt(b *testing.B, ns *testbed.NetNS) *netlink.Handle {
	h, err := netlink.NewHandleAt(netns.NsHandle(nsFd(b, ns)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	return h
}
