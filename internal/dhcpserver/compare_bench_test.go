package dhcpserver

import (
	"context"
	"fmt"
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

// The benchmark link: the server side is benchLink in one namespace with
// benchServer; perfdhcp runs in another on host0 with benchRelay, an
// address of the subnet it uses as giaddr (perfdhcp simulates a relay).
const (
	benchLink   = "ve-bench"
	benchServer = "10.88.0.1"
	benchRelay  = "10.88.255.254"
	benchPool   = "10.88.0.2,10.88.255.253"
)

// Latency and link-up measurements per peer and round: many, because the
// machine's load makes single ones noisy.
const (
	latencySamples = 3
	linkUpSamples  = 5
)

var benchRates = []int{50, 100, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000}

// peer is one DHCP server under test: start runs it in ns on benchLink and
// returns its stop function.
type peer struct {
	name  string
	start func(b *testing.B, ns *testbed.NetNS, dir string, relay bool) func()
}

func BenchmarkCompareDHCP(b *testing.B) {
	testbed.RequireRoot(b)
	perfdhcp := testbed.RequireTool(b, "perfdhcp")
	peers := benchPeers()
	maxRate := map[string][]float64{}
	latency := map[string][]float64{}
	linkUp := map[string][]float64{}
	for round := 0; round < 3; round++ {
		for _, p := range peers {
			maxRate[p.name] = append(maxRate[p.name], highestRate(b, p, perfdhcp))
			for range latencySamples {
				latency[p.name] = append(latency[p.name], doraLatency(b, p, perfdhcp))
			}
			for range linkUpSamples {
				linkUp[p.name] = append(linkUp[p.name], linkUpToBound(b, p))
			}
		}
	}
	best, bestLat, bestUp := 0.0, 0.0, 0.0
	for _, p := range peers {
		r, l, u := median(maxRate[p.name]), median(latency[p.name]), median(linkUp[p.name])
		b.ReportMetric(r, p.name+"_dora/s")
		b.ReportMetric(l, p.name+"_dora_ms")
		b.ReportMetric(u, p.name+"_linkup_bound_ms")
		if p.name != "berth" {
			best = max(best, r)
			if bestLat == 0 || l < bestLat {
				bestLat = l
			}
			if bestUp == 0 || u < bestUp {
				bestUp = u
			}
		}
	}
	if len(maxRate["berth"]) == 0 || best == 0 {
		return
	}
	b.ReportMetric(median(maxRate["berth"])/best, "berth/best_rate_ratio")
	b.ReportMetric(bestLat/median(latency["berth"]), "best/berth_latency_ratio")
	b.ReportMetric(bestUp/median(linkUp["berth"]), "best/berth_linkup_ratio")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchNet makes the server and client namespaces joined by benchLink.
func benchNet(b *testing.B) (srv, cli *testbed.NetNS) {
	srv, cli = testbed.NewNetNS(b), testbed.NewNetNS(b)
	srv.Exec(b, "ip", "link", "add", benchLink, "type", "veth", "peer", "name", "host0", "netns", cli.Name)
	srv.Exec(b, "ip", "addr", "add", benchServer+"/16", "dev", benchLink)
	srv.Exec(b, "ip", "link", "set", benchLink, "up")
	cli.Exec(b, "ip", "addr", "add", benchRelay+"/16", "dev", "host0")
	cli.Exec(b, "ip", "link", "set", "host0", "up")
	return srv, cli
}

// highestRate returns the highest rate of the ladder, refined by one
// midpoint, at which p completes every four-way exchange.
func highestRate(b *testing.B, p peer, perfdhcp string) float64 {
	clean := func(rate int) bool {
		res := perfRun(b, p, perfdhcp, rate, 2)
		ok := res.drops == 0 && res.rate >= 0.9*float64(rate)
		if !ok {
			b.Logf("%s at %d/s: %d drops, %.0f/s sent", p.name, rate, res.drops, res.rate)
			if os.Getenv("BERTH_BENCH_DEBUG") != "" {
				_ = os.WriteFile(filepath.Join(os.TempDir(), "perfdhcp-"+p.name+".out"), []byte(res.out), 0o644)
			}
		}
		return ok
	}
	best := 0
	for _, rate := range benchRates {
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
func doraLatency(b *testing.B, p peer, perfdhcp string) float64 {
	return perfRun(b, p, perfdhcp, 200, 2).delayMS
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

// perfRun starts p on a fresh link and runs perfdhcp at rate for secs.
func perfRun(b *testing.B, p peer, perfdhcp string, rate, secs int) perfResult {
	srv, cli := benchNet(b)
	stop := p.start(b, srv, b.TempDir(), true)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+30)*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "ip", "netns", "exec", cli.Name, perfdhcp, "-4", "-l", "host0",
		"-r", strconv.Itoa(rate), "-p", strconv.Itoa(secs), "-R", "60000", "-W", "1000000", benchServer).CombinedOutput()
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
		b.Logf("%s at %d/s: no rate in perfdhcp output:\n%s", p.name, rate, out)
	}
	return res
}

// linkUpToBound returns the milliseconds from bringing the container side
// up to udhcpc holding a lease.
func linkUpToBound(b *testing.B, p peer) float64 {
	udhcpc := testbed.RequireTool(b, "udhcpc")
	srv, cli := benchNet(b)
	stop := p.start(b, srv, b.TempDir(), false) // kea needs a carrier to start
	defer stop()
	cli.Exec(b, "ip", "link", "set", "host0", "down")
	cli.Exec(b, "ip", "addr", "flush", "dev", "host0")
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
		b.Fatalf("%s: udhcpc: %v\n%s", p.name, err, out)
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	if os.Getenv("BERTH_BENCH_DEBUG") != "" {
		b.Logf("%s link-up to bound: %.1f ms", p.name, ms)
	}
	return ms
}

// benchServerEnv, when set ("relay" or "direct"), makes the test binary
// serve berth's DHCP server on benchLink instead of running tests, so that
// berth runs as its own process like the peers; benchDirEnv holds its
// lease file.
const (
	benchServerEnv = "BERTH_DHCP_BENCH_SERVER"
	benchDirEnv    = "BERTH_DHCP_BENCH_DIR"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(benchServerEnv); mode != "" {
		if err := benchServe(mode == "relay", os.Getenv(benchDirEnv)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchServe serves on benchLink until SIGTERM.
func benchServe(relay bool, dir string) error {
	s, err := New(Config{
		Prefix: netip.MustParsePrefix(benchServer + "/16"), ServerAddr: netip.MustParseAddr(benchServer),
		DNS: []netip.Addr{netip.MustParseAddr(benchServer)}, LeaseFile: filepath.Join(dir, "leases"),
		AcceptLinkRelays: relay,
	})
	if err != nil {
		return err
	}
	conn, err := ListenLink(benchLink)
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
func startBerth(b *testing.B, ns *testbed.NetNS, dir string, relay bool) func() {
	mode := "direct"
	if relay {
		mode = "relay"
	}
	return startProcess(b, ns, "berth", "env", benchServerEnv+"="+mode, benchDirEnv+"="+dir, os.Args[0])
}

// startDnsmasq runs dnsmasq (DHCP only) in ns.
func startDnsmasq(b *testing.B, ns *testbed.NetNS, dir string, _ bool) func() {
	bin := testbed.RequireTool(b, "dnsmasq")
	return startProcess(b, ns, "dnsmasq", bin, "--no-daemon", "--conf-file=/dev/null", "--port=0",
		"--user=root", "--group=root", "--interface="+benchLink, "--bind-interfaces", "--no-ping",
		"--dhcp-range="+benchPool+",255.255.0.0,1h", "--dhcp-lease-max=70000", "--dhcp-authoritative",
		"--dhcp-leasefile="+filepath.Join(dir, "leases"), "--pid-file="+filepath.Join(dir, "pid"),
		"--dhcp-option=option:router,"+benchServer, "--dhcp-option=option:dns-server,"+benchServer,
		"--leasefile-ro", "--quiet-dhcp", "--log-facility="+filepath.Join(dir, "log"))
}

// startKea runs kea-dhcp4 in ns: UDP sockets for perfdhcp's relayed
// traffic, raw sockets for a direct client.
func startKea(b *testing.B, ns *testbed.NetNS, dir string, relay bool) func() {
	bin := testbed.RequireTool(b, "kea-dhcp4")
	sock := "raw"
	if relay {
		sock = "udp"
	}
	pool := strings.Replace(benchPool, ",", " - ", 1)
	conf := fmt.Sprintf(`{"Dhcp4": {
  "interfaces-config": {"interfaces": [%q], "dhcp-socket-type": %q},
  "lease-database": {"type": "memfile", "persist": true, "name": %q, "lfc-interval": 0},
  "valid-lifetime": 3600,
  "subnet4": [{"id": 1, "subnet": "10.88.0.0/16", "pools": [{"pool": %q}],
    "option-data": [{"name": "routers", "data": %q}, {"name": "domain-name-servers", "data": %q}]}],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": %q}], "severity": "WARN"}]
}}`, benchLink, sock, filepath.Join(dir, "leases.csv"), pool, benchServer, benchServer, filepath.Join(dir, "log"))
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
