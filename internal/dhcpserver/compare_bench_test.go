package dhcpserver

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// site is the link every server of one comparison answers on: in the
// server's namespace, link carries the first address of prefix; perfdhcp
// runs in another namespace on host0 with the last address of prefix but
// one as its relay address (perfdhcp simulates a relay); the pool is the
// addresses between. perfdhcp simulates clients different clients; it
// climbs the ladder rates looking for the highest clean rate, and
// measures latency at lowRate.
type site struct {
	link    string
	prefix  netip.Prefix
	clients int
	rates   []int
	lowRate int
}

// isolated is the site of BenchmarkCompareDHCP: a /16, so the pool never
// runs out.
var isolated = site{link: "ve-bench", prefix: netip.MustParsePrefix("10.88.0.0/16"), clients: 60000,
	rates: []int{50, 100, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000}, lowRate: 200}

// server is the server's address: the first of the prefix.
func (s site) server() netip.Addr { return s.prefix.Masked().Addr().Next() }

// relay is perfdhcp's address: the last of the prefix but one.
func (s site) relay() netip.Addr { return s.broadcast().Prev() }

// pool returns the first and last address handed out.
func (s site) pool() (first, last netip.Addr) { return s.server().Next(), s.relay().Prev() }

func (s site) broadcast() netip.Addr {
	a := s.prefix.Masked().Addr().As4()
	host := uint32(1)<<(32-s.prefix.Bits()) - 1
	for i := range 4 {
		a[i] |= byte(host >> (8 * (3 - i)))
	}
	return netip.AddrFrom4(a)
}

// mask is the prefix's netmask in dotted form.
func (s site) mask() string {
	return net.IP(net.CIDRMask(s.prefix.Bits(), 32)).String()
}

// Latency and link-up measurements per peer and round: many, because the
// machine's load makes single ones noisy.
const (
	latencySamples = 3
	linkUpSamples  = 5
)

// peer is one DHCP server under test as a process of its own: start runs
// it in ns on s.link and returns its stop function.
type peer struct {
	name  string
	start func(b *testing.B, s site, ns *testbed.NetNS, dir string, relay bool) func()
}

// target is a server under test ready for a measurement: up returns the
// namespace perfdhcp or udhcpc runs in, host0 there up with s.relay()
// (relay) or down and without an address (not relay), and a stop function.
type target struct {
	name string
	up   func(b *testing.B, relay bool) (cli *testbed.NetNS, stop func())
}

// fresh is a target that starts p on a new pair of namespaces each time.
func fresh(p peer, s site) target {
	return target{name: p.name, up: func(b *testing.B, relay bool) (*testbed.NetNS, func()) {
		srv, cli := benchNet(b, s)
		stop := p.start(b, s, srv, b.TempDir(), relay)
		if !relay {
			cli.Exec(b, "ip", "link", "set", "host0", "down")
			cli.Exec(b, "ip", "addr", "flush", "dev", "host0")
		}
		return cli, stop
	}}
}

func BenchmarkCompareDHCP(b *testing.B) {
	testbed.RequireRoot(b)
	var targets []target
	for _, p := range benchPeers() {
		targets = append(targets, fresh(p, isolated))
	}
	compare(b, isolated, targets, 3)
}

// compare measures each target rounds times, alternating them, and
// reports the medians and berth's ratios to the best of the others.
func compare(b *testing.B, s site, targets []target, rounds int) {
	perfdhcp := testbed.RequireTool(b, "perfdhcp")
	maxRate := map[string][]float64{}
	latency := map[string][]float64{}
	linkUp := map[string][]float64{}
	for range rounds {
		for _, tg := range targets {
			maxRate[tg.name] = append(maxRate[tg.name], highestRate(b, s, tg, perfdhcp))
			for range latencySamples {
				latency[tg.name] = append(latency[tg.name], doraLatency(b, s, tg, perfdhcp))
			}
			for range linkUpSamples {
				linkUp[tg.name] = append(linkUp[tg.name], linkUpToBound(b, tg))
			}
		}
	}
	best, bestLat, bestUp := 0.0, 0.0, 0.0
	for _, tg := range targets {
		r, l, u := median(maxRate[tg.name]), median(latency[tg.name]), median(linkUp[tg.name])
		b.ReportMetric(r, tg.name+"_dora/s")
		b.ReportMetric(l, tg.name+"_dora_ms")
		b.ReportMetric(u, tg.name+"_linkup_bound_ms")
		if !strings.HasPrefix(tg.name, "berth") {
			best = max(best, r)
			if bestLat == 0 || l < bestLat {
				bestLat = l
			}
			if bestUp == 0 || u < bestUp {
				bestUp = u
			}
		}
	}
	berth := targets[0].name
	if len(maxRate[berth]) == 0 || best == 0 {
		return
	}
	b.ReportMetric(median(maxRate[berth])/best, "berth/best_rate_ratio")
	b.ReportMetric(bestLat/median(latency[berth]), "best/berth_latency_ratio")
	b.ReportMetric(bestUp/median(linkUp[berth]), "best/berth_linkup_ratio")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchNet makes the server and client namespaces joined by s.link.
func benchNet(b *testing.B, s site) (srv, cli *testbed.NetNS) {
	srv, cli = testbed.NewNetNS(b), testbed.NewNetNS(b)
	srv.Veth(b, s.link, cli, "host0")
	srv.Exec(b, "ip", "addr", "add", netip.PrefixFrom(s.server(), s.prefix.Bits()).String(), "dev", s.link)
	srv.Exec(b, "ip", "link", "set", s.link, "up")
	cli.Exec(b, "ip", "addr", "add", netip.PrefixFrom(s.relay(), s.prefix.Bits()).String(), "dev", "host0")
	// kea opens no socket on a link the kernel does not call running yet.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if strings.TrimSpace(srv.Exec(b, "cat", "/sys/class/net/"+s.link+"/operstate")) == "up" {
			return srv, cli
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s never came up", s.link)
		}
	}
}

// highestRate returns the highest rate of the ladder, refined by one
// midpoint, at which p completes every four-way exchange.
func highestRate(b *testing.B, s site, tg target, perfdhcp string) float64 {
	clean := func(rate int) bool {
		res := perfRun(b, s, tg, perfdhcp, rate, 2)
		ok := res.drops == 0 && res.rate >= 0.9*float64(rate)
		if !ok {
			b.Logf("%s at %d/s: %d drops, %.0f/s sent", tg.name, rate, res.drops, res.rate)
			if os.Getenv("BERTH_BENCH_DEBUG") != "" {
				_ = os.WriteFile(filepath.Join(os.TempDir(), "perfdhcp-"+tg.name+".out"), []byte(res.out), 0o644)
			}
		}
		return ok
	}
	best := 0
	for _, rate := range s.rates {
		if clean(rate) {
			best = rate
			continue
		}
		if mid := (best + rate) / 2; best > 0 && clean(mid) {
			best = mid
		}
		break
	}
	return float64(best)
}

// doraLatency returns the mean DISCOVER-OFFER plus REQUEST-ACK delay at a low rate.
func doraLatency(b *testing.B, s site, tg target, perfdhcp string) float64 {
	return perfRun(b, s, tg, perfdhcp, s.lowRate, 2).delayMS
}

type perfResult struct {
	rate    float64 // DISCOVERs sent per second
	drops   int
	delayMS float64
	out     string
}

var (
	sentRe  = regexp.MustCompile(`sent packets: ([0-9]+)`)
	dropRe  = regexp.MustCompile(`drops: ([0-9]+)`)
	delayRe = regexp.MustCompile(`avg delay: ([0-9.]+) ms`)
)

// perfRun readies tg and runs perfdhcp against it at rate for secs.
func perfRun(b *testing.B, s site, tg target, perfdhcp string, rate, secs int) perfResult {
	cli, stop := tg.up(b, true)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+30)*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "ip", "netns", "exec", cli.Name, perfdhcp, "-4", "-l", "host0",
		"-r", strconv.Itoa(rate), "-p", strconv.Itoa(secs), "-R", strconv.Itoa(s.clients), "-W", "1000000",
		s.server().String()).CombinedOutput()
	var res perfResult
	res.out = string(out)
	if m := sentRe.FindSubmatch(out); m != nil {
		sent, _ := strconv.ParseFloat(string(m[1]), 64)
		res.rate = sent / float64(secs)
	}
	for _, m := range dropRe.FindAllSubmatch(out, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		res.drops += n
	}
	for _, m := range delayRe.FindAllSubmatch(out, -1) {
		d, _ := strconv.ParseFloat(string(m[1]), 64)
		res.delayMS += d
	}
	if res.rate == 0 {
		b.Logf("%s at %d/s: no rate in perfdhcp output:\n%s", tg.name, rate, out)
	}
	return res
}

// linkUpToBound returns the milliseconds from bringing the container side
// up to udhcpc holding a lease.
func linkUpToBound(b *testing.B, tg target) float64 {
	udhcpc := testbed.RequireTool(b, "udhcpc")
	cli, stop := tg.up(b, false)
	defer stop()
	script := filepath.Join(b.TempDir(), "script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", cli.Name, "sh", "-c",
		fmt.Sprintf("ip link set host0 up && exec %s%s -f -q -n -t 20 -T 1 -A 1 -i host0 -s %s", os.Getenv("BERTH_BENCH_STRACE"), udhcpc, script))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: udhcpc: %v\n%s", tg.name, err, out)
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	if os.Getenv("BERTH_BENCH_DEBUG") != "" {
		b.Logf("%s link-up to bound: %.1f ms", tg.name, ms)
	}
	return ms
}

// benchServerEnv, when set ("relay" or "direct"), makes the test binary
// serve berth's DHCP server on the link benchLinkEnv with the prefix
// benchPrefixEnv (a site) instead of running tests, so that berth runs as
// its own process like the peers; benchDirEnv holds its lease file.
const (
	benchServerEnv = "BERTH_DHCP_BENCH_SERVER"
	benchLinkEnv   = "BERTH_DHCP_BENCH_LINK"
	benchPrefixEnv = "BERTH_DHCP_BENCH_PREFIX"
	benchDirEnv    = "BERTH_DHCP_BENCH_DIR"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(benchServerEnv); mode != "" {
		p, err := netip.ParsePrefix(os.Getenv(benchPrefixEnv))
		if err == nil {
			s := site{link: os.Getenv(benchLinkEnv), prefix: p}
			err = benchServe(s, mode == "relay", os.Getenv(benchDirEnv))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchServe serves on s.link until SIGTERM.
func benchServe(st site, relay bool, dir string) error {
	s, err := New(Config{
		Prefix: st.prefix, ServerAddr: st.server(), DNS: []netip.Addr{st.server()},
		LeaseFile: filepath.Join(dir, "leases"), AcceptLinkRelays: relay,
	})
	if err != nil {
		return err
	}
	conn, err := ListenLink(st.link)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() { <-sig; conn.Close() }()
	err = s.Serve(conn)
	fmt.Fprintf(os.Stderr, "berth stats: %+v\n", s.Stats())
	return err
}

// startBerth runs berth's server in ns as a process of its own.
func startBerth(b *testing.B, s site, ns *testbed.NetNS, dir string, relay bool) func() {
	mode := "direct"
	if relay {
		mode = "relay"
	}
	return startProcess(b, ns, "berth", "env", benchServerEnv+"="+mode, benchDirEnv+"="+dir,
		benchLinkEnv+"="+s.link, benchPrefixEnv+"="+s.prefix.String(), os.Args[0])
}

// startDnsmasq runs dnsmasq (DHCP only) in ns.
func startDnsmasq(b *testing.B, s site, ns *testbed.NetNS, dir string, _ bool) func() {
	bin := testbed.RequireTool(b, "dnsmasq")
	first, last := s.pool()
	return startProcess(b, ns, "dnsmasq", bin, "--no-daemon", "--conf-file=/dev/null", "--port=0",
		"--user=root", "--group=root", "--interface="+s.link, "--bind-interfaces", "--no-ping",
		"--dhcp-range="+first.String()+","+last.String()+","+s.mask()+",1h", "--dhcp-lease-max=70000", "--dhcp-authoritative",
		"--dhcp-leasefile="+filepath.Join(dir, "leases"), "--pid-file="+filepath.Join(dir, "pid"),
		"--dhcp-option=option:router,"+s.server().String(), "--dhcp-option=option:dns-server,"+s.server().String(),
		"--leasefile-ro", "--quiet-dhcp", "--log-facility="+filepath.Join(dir, "log"))
}

// startKea runs kea-dhcp4 in ns: UDP sockets for perfdhcp's relayed
// traffic, raw sockets for a direct client.
func startKea(b *testing.B, s site, ns *testbed.NetNS, dir string, relay bool) func() {
	bin := testbed.RequireTool(b, "kea-dhcp4")
	sock := "raw"
	if relay {
		sock = "udp"
	}
	first, last := s.pool()
	conf := fmt.Sprintf(`{"Dhcp4": {
  "interfaces-config": {"interfaces": [%q], "dhcp-socket-type": %q},
  "lease-database": {"type": "memfile", "persist": true, "name": %q, "lfc-interval": 0},
  "valid-lifetime": 3600,
  "subnet4": [{"id": 1, "subnet": %q, "pools": [{"pool": %q}],
    "option-data": [{"name": "routers", "data": %q}, {"name": "domain-name-servers", "data": %q}]}],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": %q}], "severity": "WARN"}]
}}`, s.link, sock, filepath.Join(dir, "leases.csv"), s.prefix.Masked().String(), first.String()+" - "+last.String(),
		s.server().String(), s.server().String(), filepath.Join(dir, "log"))
	path := filepath.Join(dir, "kea.json")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	return startProcess(b, ns, "kea", "env", "KEA_LOCKFILE_DIR="+dir, "KEA_PIDFILE_DIR="+dir, bin, "-c", path)
}

// startProcess runs a server in ns and waits until it listens on port 67.
func startProcess(b *testing.B, ns *testbed.NetNS, name string, args ...string) func() {
	cmd := ns.Command(args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ss, _ := ns.Command("ss", "-lunH", "sport", "= :67").CombinedOutput()
		if len(ss) > 0 {
			return stop
		}
		if time.Now().After(deadline) {
			stop()
			b.Fatalf("%s did not start:\n%s", name, out.String())
		}
	}
}

// benchPeers are the servers compared; BERTH_BENCH_PEERS (a comma list)
// selects some of them.
func benchPeers() []peer {
	all := []peer{{"berth", startBerth}, {"dnsmasq", startDnsmasq}, {"kea", startKea}}
	only := os.Getenv("BERTH_BENCH_PEERS")
	if only == "" {
		return all
	}
	var out []peer
	for _, p := range all {
		if slices.Contains(strings.Split(only, ","), p.name) {
			out = append(out, p)
		}
	}
	return out
}
