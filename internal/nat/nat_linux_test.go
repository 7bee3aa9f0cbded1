package nat

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/testbed"
)

// topology is a host namespace with a container on ve-nat and a fake
// uplink on up0, neither of which routes to the other.
type topology struct {
	host, ctr, uplink *testbed.NetNS
}

func newTopology(t *testing.T) *topology {
	t.Helper()
	h, c := testbed.NewNetNS(t), testbed.NewNetNS(t)
	tp := &topology{host: h, ctr: c, uplink: testbed.NewUplink(t, h).NS}
	h.Veth(t, "ve-nat", c, "host0")
	h.Exec(t, "ip", "addr", "add", "10.60.0.1/28", "dev", "ve-nat")
	h.Exec(t, "ip", "addr", "add", "fd60::1/64", "dev", "ve-nat", "nodad")
	h.Exec(t, "ip", "link", "set", "ve-nat", "up")
	c.Exec(t, "ip", "addr", "add", "10.60.0.2/28", "dev", "host0")
	c.Exec(t, "ip", "addr", "add", "fd60::2/64", "dev", "host0", "nodad")
	c.Exec(t, "ip", "route", "add", "default", "via", "10.60.0.1")
	c.Exec(t, "ip", "-6", "route", "add", "default", "via", "fd60::1")
	return tp
}

// peerServer listens on addr in ns and answers every connection with the
// address it came from.
func peerServer(t *testing.T, ns *testbed.NetNS, addr string) { ns.Serve(t, addr, testbed.EchoPeer) }

func TestIntegrationMasquerade(t *testing.T) {
	testbed.RequireRoot(t)
	tp := newTopology(t)
	m := New(WithNetNS(tp.host.Path))
	t.Cleanup(func() { _ = m.Close() })
	peerServer(t, tp.uplink, "[::]:8000")
	if err := m.AddLink("ve-nat", netip.MustParsePrefix("10.60.0.0/28"), netip.MustParsePrefix("fd60::/64")); err != nil {
		t.Fatal(err)
	}
	tp.host.Exec(t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	tests := []struct{ dst, want string }{
		{"198.51.100.2:8000", "198.51.100.1"},
		{"[2001:db8::2]:8000", "2001:db8::1"},
	}
	for _, tt := range tests {
		got, err := tp.ctr.Dial(tt.dst)
		if err != nil || strings.TrimPrefix(got, "::ffff:") != tt.want {
			t.Fatalf("container to %s: server saw %q (%v), want %s", tt.dst, got, err, tt.want)
		}
	}
	if err := m.RemoveLink("ve-nat"); err != nil {
		t.Fatal(err)
	}
	if out := tp.host.Exec(t, "nft", "list", "table", "inet", TableName); strings.Contains(out, "masquerade") {
		t.Fatalf("masquerading left after the last link went:\n%s", out)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if out := tp.host.Exec(t, "nft", "list", "tables"); strings.Contains(out, TableName) {
		t.Fatalf("table left after Close:\n%s", out)
	}
}

// TestIntegrationTableReplacedThenRefilled: the first change replaces a
// leftover table of berth's name; later ones keep its chains and replace
// their rules; a table deleted behind berth's back is built anew.
func TestIntegrationTableReplacedThenRefilled(t *testing.T) {
	testbed.RequireRoot(t)
	tp := newTopology(t)
	h := tp.host
	h.Exec(t, "nft", "add table inet "+TableName)
	h.Exec(t, "nft", "add chain inet "+TableName+" leftover")
	h.Exec(t, "ip", "link", "add", "ve-two", "type", "veth", "peer", "name", "ve-two-peer")
	m := New(WithNetNS(h.Path))
	t.Cleanup(func() { _ = m.Close() })
	if err := m.AddLink("ve-nat", netip.MustParsePrefix("10.60.0.0/28")); err != nil {
		t.Fatal(err)
	}
	if out := h.Exec(t, "nft", "list", "table", "inet", TableName); strings.Contains(out, "leftover") {
		t.Fatalf("leftover chain kept:\n%s", out)
	}
	handle := func() string { // the table's handle: a new table gets a new one
		out := h.Exec(t, "nft", "-a", "list", "table", "inet", TableName)
		return out[:strings.Index(out, "\n")]
	}
	before := handle()
	if err := m.AddLink("ve-two", netip.MustParsePrefix("10.60.0.16/28")); err != nil {
		t.Fatal(err)
	}
	if got := handle(); got != before {
		t.Fatalf("table replaced: %q, was %q", got, before)
	}
	h.Exec(t, "nft", "delete table inet "+TableName)
	if err := m.RemoveLink("ve-two"); err != nil {
		t.Fatal(err)
	}
	out := h.Exec(t, "nft", "list", "table", "inet", TableName)
	if !strings.Contains(out, "10.60.0.0/28") || strings.Contains(out, "10.60.0.16/28") {
		t.Fatalf("table not rebuilt from the current links:\n%s", out)
	}
}

// twoLinks makes the topology with a second container link, ve-two, and
// a Manager that masquerades ve-nat's subnet.
func twoLinks(t *testing.T) (*testbed.NetNS, *Manager) {
	t.Helper()
	h := newTopology(t).host
	h.Exec(t, "ip", "link", "add", "ve-two", "type", "veth", "peer", "name", "ve-two-peer")
	m := New(WithNetNS(h.Path))
	t.Cleanup(func() { _ = m.Close() })
	if err := m.AddLink("ve-nat", netip.MustParsePrefix("10.60.0.0/28")); err != nil {
		t.Fatal(err)
	}
	return h, m
}

// TestIntegrationTableAdopted: a new Manager (a restarted berthd) keeps
// the table and chains a previous one left, with their hooks, and
// replaces only their rules.
func TestIntegrationTableAdopted(t *testing.T) {
	testbed.RequireRoot(t)
	h, _ := twoLinks(t)
	handles := func() string { // the table's and chains' handles: new ones would differ
		var keep []string
		for _, l := range strings.Split(h.Exec(t, "nft", "-a", "list", "table", "inet", TableName), "\n") {
			if strings.Contains(l, "table ") || strings.Contains(l, "chain ") {
				keep = append(keep, strings.TrimSpace(l))
			}
		}
		return strings.Join(keep, "\n")
	}
	before := handles()
	second := New(WithNetNS(h.Path))
	if err := second.AddLink("ve-two", netip.MustParsePrefix("10.60.0.16/28")); err != nil {
		t.Fatal(err)
	}
	if got := handles(); got != before {
		t.Fatalf("table or chains replaced:\n%s\nwere:\n%s", got, before)
	}
	out := h.Exec(t, "nft", "list", "table", "inet", TableName)
	if strings.Contains(out, "10.60.0.0/28") || !strings.Contains(out, "10.60.0.16/28") {
		t.Fatalf("rules not replaced by the new Manager's links:\n%s", out)
	}
}

func TestIntegrationPortForward(t *testing.T) {
	testbed.RequireRoot(t)
	tp := newTopology(t)
	m := New(WithNetNS(tp.host.Path))
	t.Cleanup(func() { _ = m.Close() })
	peerServer(t, tp.ctr, "[::]:80")
	if err := m.AddLink("ve-nat", netip.MustParsePrefix("10.60.0.0/28")); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"10.60.0.2", "fd60::2"} {
		f := Forward{Proto: "tcp", HostPort: 8080, Addr: netip.MustParseAddr(a), Port: 80}
		if err := m.AddForward(f); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		from *testbed.NetNS
		dst  string
	}{
		{"uplink v4", tp.uplink, "198.51.100.1:8080"},
		{"uplink v6", tp.uplink, "[2001:db8::1]:8080"},
		{"host loopback v4", tp.host, "127.0.0.1:8080"},
		{"host address v4", tp.host, "198.51.100.1:8080"},
		{"host address v6", tp.host, "[2001:db8::1]:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.from.Dial(tt.dst)
			if err != nil || got == "" {
				t.Fatalf("%s: %q %v", tt.dst, got, err)
			}
		})
	}
	if got := len(m.Forwards()); got != 2 {
		t.Fatalf("%d forwards listed", got)
	}
	if err := m.RemoveForwardsTo(netip.MustParseAddr("10.60.0.2")); err != nil {
		t.Fatal(err)
	}
	if fw := m.Forwards(); len(fw) != 1 || !fw[0].Addr.Is6() {
		t.Fatalf("forwards after removal: %+v", fw)
	}
}

// TestIntegrationChangeRefillsOnlyItsChains: a link's change replaces
// the rules of the links' chains only, a forward's change those of the
// forwards' chains only, and the table always holds both.
func TestIntegrationChangeRefillsOnlyItsChains(t *testing.T) {
	testbed.RequireRoot(t)
	h, m := twoLinks(t)
	if err := m.AddForward(Forward{Proto: "tcp", HostPort: 8080, Addr: netip.MustParseAddr("10.60.0.2"), Port: 80}); err != nil {
		t.Fatal(err)
	}
	chain := func(name string) string { // with the rules' handles: new rules get new ones
		return h.Exec(t, "nft", "-a", "list", "chain", "inet", TableName, name)
	}
	pre, out := chain("prerouting"), chain("output")
	if err := m.AddLink("ve-two", netip.MustParsePrefix("10.60.0.16/28")); err != nil {
		t.Fatal(err)
	}
	if chain("prerouting") != pre || chain("output") != out {
		t.Fatalf("a link's change replaced the forwards' rules:\n%s\n%s", chain("prerouting"), chain("output"))
	}
	guard, post := chain("guard"), chain("postrouting")
	if !strings.Contains(post, "10.60.0.16/28") || !strings.Contains(guard, "ve-two") {
		t.Fatalf("link rules missing:\n%s\n%s", guard, post)
	}
	if err := m.AddForward(Forward{Proto: "udp", HostPort: 53, Addr: netip.MustParseAddr("10.60.0.18"), Port: 53}); err != nil {
		t.Fatal(err)
	}
	if chain("guard") != guard || chain("postrouting") != post {
		t.Fatalf("a forward's change replaced the links' rules:\n%s\n%s", chain("guard"), chain("postrouting"))
	}
	if got := chain("prerouting"); !strings.Contains(got, "10.60.0.2:80") || !strings.Contains(got, "10.60.0.18:53") {
		t.Fatalf("forward rules missing:\n%s", got)
	}
	m.Disconnect()
	if err := m.RemoveLink("ve-two"); err != nil {
		t.Fatal(err)
	}
	if got := chain("postrouting"); strings.Contains(got, "10.60.0.16/28") || !strings.Contains(got, "10.60.0.0/28") {
		t.Fatalf("link rules after a change on a new connection:\n%s", got)
	}
}

func TestIntegrationCoexistsWithOtherTables(t *testing.T) {
	testbed.RequireRoot(t)
	tp := newTopology(t)
	h := tp.host
	h.Exec(t, "nft", "add table ip filter")
	h.Exec(t, "nft", "add chain ip filter fw0 { type filter hook forward priority 0 ; policy accept ; }")
	h.Exec(t, "nft", "add rule ip filter fw0 iifname \"eth9\" drop")
	h.Exec(t, "nft", "add table inet io.systemd.nat")
	before := h.Exec(t, "nft", "list", "ruleset")
	m := New(WithNetNS(h.Path))
	if err := m.AddLink("ve-nat", netip.MustParsePrefix("10.60.0.0/28")); err != nil {
		t.Fatal(err)
	}
	if err := m.AddForward(Forward{Proto: "udp", HostPort: 53, Addr: netip.MustParseAddr("10.60.0.2"), Port: 53}); err != nil {
		t.Fatal(err)
	}
	during := h.Exec(t, "nft", "list", "table", "inet", TableName)
	for _, want := range []string{"masquerade", "dnat ip to 10.60.0.2:53", "fib daddr type local"} {
		if !strings.Contains(during, want) {
			t.Errorf("table lacks %q:\n%s", want, during)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if after := h.Exec(t, "nft", "list", "ruleset"); after != before {
		t.Fatalf("ruleset changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestForwardValidate(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.2")
	tests := []struct {
		name string
		f    Forward
		ok   bool
	}{
		{"tcp", Forward{"tcp", 80, a, 80}, true},
		{"udp v6", Forward{"udp", 53, netip.MustParseAddr("fd00::2"), 53}, true},
		{"sctp", Forward{"sctp", 80, a, 80}, false},
		{"port 0", Forward{"tcp", 0, a, 80}, false},
		{"no address", Forward{"tcp", 80, netip.Addr{}, 80}, false},
		{"loopback", Forward{"tcp", 80, netip.MustParseAddr("127.0.0.1"), 80}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate = %v", err)
			}
		})
	}
}

func TestIntegrationContainerCannotReachHostLoopback(t *testing.T) {
	testbed.RequireRoot(t)
	tp := newTopology(t)
	m := New(WithNetNS(tp.host.Path))
	t.Cleanup(func() { _ = m.Close() })
	if err := m.AddLink("ve-nat", netip.MustParsePrefix("10.60.0.0/28")); err != nil {
		t.Fatal(err)
	}
	peerServer(t, tp.host, "127.0.0.1:9000")
	// The container routes 127.0.0.1 to the host, as an attacker would.
	c := tp.ctr
	c.Exec(t, "sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1", "net.ipv4.conf.host0.route_localnet=1")
	c.Exec(t, "ip", "addr", "del", "127.0.0.1/8", "dev", "lo")
	c.Exec(t, "ip", "route", "add", "127.0.0.1/32", "via", "10.60.0.1", "dev", "host0")
	try := func(timeout time.Duration) error {
		return c.Do(func() error {
			conn, err := net.DialTimeout("tcp", "127.0.0.1:9000", timeout)
			if err == nil {
				conn.Close()
			}
			return err
		})
	}
	if err := try(3 * time.Second); err == nil {
		t.Fatal("the container reached the host's loopback")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := try(30 * time.Second); err != nil {
		t.Fatalf("without the guard the attack path does not work either, so the test proves nothing: %v", err)
	}
}

func TestIntegrationIPv6ForwardingKeepsSLAAC(t *testing.T) {
	testbed.RequireRoot(t)
	tp := newTopology(t)
	h := tp.host
	h.Exec(t, "sysctl", "-qw", "net.ipv6.conf.up0.accept_ra=1", "net.ipv6.conf.ve-nat.accept_ra=0")
	m := New(WithNetNS(h.Path))
	t.Cleanup(func() { _ = m.Close() })
	if err := m.AddLink("ve-nat", netip.MustParsePrefix("10.60.0.0/28"), netip.MustParsePrefix("fd60::/64")); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, k := range []string{"net.ipv6.conf.all.forwarding", "net.ipv6.conf.up0.accept_ra", "net.ipv6.conf.ve-nat.accept_ra", "net.ipv4.ip_forward"} {
		got[k] = strings.TrimSpace(h.Exec(t, "sysctl", "-n", k))
	}
	want := map[string]string{
		"net.ipv6.conf.all.forwarding": "1", "net.ipv6.conf.up0.accept_ra": "2",
		"net.ipv6.conf.ve-nat.accept_ra": "0", "net.ipv4.ip_forward": "1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("sysctls -want +got:\n%s", diff)
	}
}
