package dhcpserver

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

// testLink is a veth from a host namespace (side name) to a container
// namespace (side host0), with berth's server on the host side.
type testLink struct {
	host, ctr *testbed.NetNS
	name      string
	server    *Server
}

// newServedLink makes a veth ve-<suffix>, gives the host side the first
// address of prefix and serves DHCP on it until t ends.
func newServedLink(t *testing.T, prefix string, mod ...func(*Config)) *testLink {
	t.Helper()
	l := &testLink{host: testbed.NewNetNS(t), ctr: testbed.NewNetNS(t), name: "ve-test"}
	p := netip.MustParsePrefix(prefix)
	srvAddr := p.Addr().Next()
	l.host.Veth(t, l.name, l.ctr, "host0")
	l.host.Exec(t, "ip", "addr", "add", fmt.Sprintf("%v/%d", srvAddr, p.Bits()), "dev", l.name)
	l.host.Exec(t, "ip", "link", "set", l.name, "up")
	cfg := Config{Prefix: p, ServerAddr: srvAddr, DNS: []netip.Addr{srvAddr}}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l.server = s
	serveIn(t, l.host, l.name, s)
	return l
}

// serveIn opens the DHCP socket on ifname inside ns and serves s until t ends.
func serveIn(t *testing.T, ns *testbed.NetNS, ifname string, s *Server) {
	t.Helper()
	var conn interface{ Close() error }
	errc := make(chan error, 1)
	err := ns.Do(func() error {
		c, err := ListenLink(ifname)
		if err != nil {
			return err
		}
		conn = c
		go func() { errc <- s.Serve(c) }()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	})
}

// clientScript writes a udhcpc/dhclient script that records the lease in
// out and, if configure, puts the address and default route on the link.
func clientScript(t *testing.T, out string, configure bool) string {
	t.Helper()
	conf := ""
	if configure {
		conf = `ip addr add "$ip/$mask" dev "$interface"; ip route replace default via "$router"`
	}
	script := fmt.Sprintf(`#!/bin/sh
case "$1$reason" in
bound|renew) %s
	echo "ip=$ip mask=$mask router=$router dns=$dns hostname=$hostname" > %q ;;
BOUND|REBOOT|RENEW) ip="$new_ip_address"; router="$new_routers"
	mask=$(ipcalc_bits "$new_subnet_mask" 2>/dev/null || echo 28)
	%s
	echo "ip=$ip router=$router dns=$new_domain_name_servers hostname=$new_host_name" > %q ;;
esac
exit 0
`, conf, out, conf, out)
	path := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// runClient runs a DHCP client command in ns with a generous deadline.
func runClient(t *testing.T, ns *testbed.NetNS, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func readLease(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("client recorded no lease: %v", err)
	}
	return strings.TrimSpace(string(b))
}

func TestIntegrationUdhcpc(t *testing.T) {
	testbed.RequireRoot(t)
	udhcpc := testbed.RequireTool(t, "udhcpc")
	l := newServedLink(t, "10.77.0.0/28")
	out := filepath.Join(t.TempDir(), "lease")
	script := clientScript(t, out, true)
	if o, err := runClient(t, l.ctr, udhcpc, "-f", "-q", "-n", "-t", "10", "-T", "1", "-i", "host0", "-s", script, "-x", "hostname:box1"); err != nil {
		t.Fatalf("udhcpc: %v\n%s", err, o)
	}
	leases := l.server.Leases()
	if len(leases) != 1 {
		t.Fatalf("server leases: %+v", leases)
	}
	want := fmt.Sprintf("ip=%v mask=28 router=10.77.0.1 dns=10.77.0.1 hostname=box1", leases[0].Addr)
	if got := readLease(t, out); got != want {
		t.Fatalf("udhcpc got %q, want %q", got, want)
	}
	l.ctr.Exec(t, "busybox", "ping", "-c", "1", "-W", "5", "10.77.0.1")
}

func TestIntegrationDhclient(t *testing.T) {
	testbed.RequireRoot(t)
	dhclient := testbed.RequireTool(t, "dhclient")
	l := newServedLink(t, "10.78.0.0/28")
	dir := t.TempDir()
	out := filepath.Join(dir, "lease")
	script := clientScript(t, out, true)
	conf := filepath.Join(dir, "dhclient.conf")
	if err := os.WriteFile(conf, []byte(`send host-name "box2";`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := runClient(t, l.ctr, dhclient, "-4", "-1", "-v", "-sf", script, "-cf", conf,
		"-lf", filepath.Join(dir, "leases"), "-pf", filepath.Join(dir, "pid"), "--no-pid", "host0"); err != nil {
		t.Fatalf("dhclient: %v\n%s", err, o)
	}
	leases := l.server.Leases()
	if len(leases) != 1 {
		t.Fatalf("server leases: %+v", leases)
	}
	want := fmt.Sprintf("ip=%v router=10.77.0.1 dns=10.77.0.1 hostname=box2", leases[0].Addr)
	want = strings.ReplaceAll(want, "10.77", "10.78")
	if got := readLease(t, out); got != want {
		t.Fatalf("dhclient got %q, want %q", got, want)
	}
	l.ctr.Exec(t, "busybox", "ping", "-c", "1", "-W", "5", "10.78.0.1")
}
