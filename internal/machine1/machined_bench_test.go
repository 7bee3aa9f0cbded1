package machine1_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/machine1"
	"github.com/berth-dev/berth/internal/testbed"
)

// Inside the booted test host, the test binary runs the benchmark's inner
// part when hostBenchEnv is set.
const (
	hostBenchEnv    = "BERTH_MACHINED_BENCH_INSIDE"
	hostBenchBin    = "/usr/local/bin/berth-machine1.test"
	hostBerthd      = "/usr/local/bin/berthd"
	hostBenchMetric = "berth-metric"
)

// machinedFiles are systemd-container's files systemd-machined needs; the
// cached Debian image lacks that package, so they come from this host
// (the same systemd version).
var machinedFiles = []string{
	"/lib/systemd/systemd-machined",
	"/lib/systemd/system/systemd-machined.service",
	"/usr/share/dbus-1/system.d/org.freedesktop.machine1.conf",
	"/usr/share/dbus-1/system-services/org.freedesktop.machine1.service",
}

// hostMetrics are the numbers the rounds measure for each
// implementation, in order; the latencies are measured side by side
// (interleavedMetrics).
var hostMetrics = []string{
	"register/s", "unregister/s", "idle-RSS-KiB", "RSS-B/machine", "RSS-B/machine-after-first",
	"anon-B/machine",
}

// BenchmarkCompareMachinedInTestHost boots a Debian test host with systemd
// as PID 1 (systemd-nspawn --boot, private network), and inside it
// measures systemd-machined and berthd, alternately, on the real system bus with
// the same workload as BenchmarkCompareMachined: 1,000 machines, each led
// by a sleep process in its own scope (machined takes a machine's unit
// from its leader's cgroup and refuses two machines in one unit). The
// rounds give the rates and memory (medians of alternating rounds); then,
// with the daemons side by side, the latencies come from calls to them in
// turn (the *-interleaved metrics: see interleavedRound). It reports both
// implementations' numbers, the berthd ÷ machined ratios and, for the
// latencies, the control's ratio to berthd (the method's noise).
// One run does a fixed amount of work whatever b.N is.
func BenchmarkCompareMachinedInTestHost(b *testing.B) {
	testbed.RequireRoot(b)
	if os.Getenv(hostBenchEnv) != "" {
		hostBenchInside(b)
		return
	}
	root := testbed.CloneDebianImage(b)
	for _, f := range machinedFiles {
		testbed.CopyFile(b, f, filepath.Join(root, f))
	}
	testbed.CopySelf(b, filepath.Join(root, hostBenchBin))
	testbed.CopyFile(b, testbed.Binary(b, "berthd"), filepath.Join(root, hostBerthd))
	h := testbed.BootTestHost(b, root)
	out, err := h.Run([]string{hostBenchEnv + "=1"}, hostBenchBin, "-test.run", "^$",
		"-test.bench", "^BenchmarkCompareMachinedInTestHost$", "-test.benchtime", "1x", "-test.count", "1")
	if err != nil {
		b.Fatalf("inside the test host: %v:\n%s", err, out)
	}
	reportHostMetrics(b, out)
}

// reportHostMetrics reports the inner part's metric lines and the ratios.
func reportHostMetrics(b *testing.B, out string) {
	got := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == hostBenchMetric {
			v, err := strconv.ParseFloat(f[3], 64)
			if err != nil {
				b.Fatalf("metric line %q: %v", sc.Text(), err)
			}
			got[f[1]+"-"+f[2]] = v
		}
	}
	for _, m := range allHostMetrics() {
		md, bd := got["machined-"+m], got["berthd-"+m]
		b.ReportMetric(md, "machined-"+m)
		b.ReportMetric(bd, "berthd-"+m)
		if md != 0 {
			b.ReportMetric(bd/md, "ratio-"+m)
		}
	}
	for _, m := range interleavedMetrics {
		if c, bd := got["berthd-control-"+m], got["berthd-"+m]; bd != 0 {
			b.ReportMetric(c/bd, "control-ratio-"+m)
		}
	}
	if want := 2*len(allHostMetrics()) + len(interleavedMetrics); len(got) != want {
		b.Fatalf("inner part reported %d metrics, want %d:\n%s", len(got), want, out)
	}
}

// hostRounds is how many times the inner part runs each of the two
// daemons, alternately; each metric is the median over the rounds.
const hostRounds = 5

// hostRound measures one implementation in one round.
var hostRound = map[string]func(*testing.B, *dbus.Conn, []uint32) []float64{
	"machined": machinedRound, "berthd": berthdRound,
}

// hostBenchInside is the inner part, run inside the test host: the same
// leaders serve systemd-machined and berthd, alternately, and the medians
// are printed as metric lines.
func hostBenchInside(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	leaders := scopedSleepers(ctx, b, benchMachines)
	conn, err := dbus.SystemBus()
	if err != nil {
		b.Fatal(err)
	}
	runs := map[string][][]float64{}
	for r := range hostRounds {
		// machined, berthd, berthd, machined, machined, ...: a drift
		// of the load or of the host over the run favours neither.
		order := []string{"machined", "berthd"}
		if r%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, impl := range order {
			runs[impl] = append(runs[impl], hostRound[impl](b, conn, leaders))
		}
	}
	for _, impl := range []string{"machined", "berthd"} {
		for i, m := range hostMetrics {
			var vs []float64
			for _, r := range runs[impl] {
				vs = append(vs, r[i])
			}
			sort.Float64s(vs)
			fmt.Printf("%s %s %s %g\n", hostBenchMetric, impl, m, vs[len(vs)/2])
		}
	}
	for impl, vs := range interleavedRound(b, conn, leaders) {
		for i, m := range interleavedMetrics {
			fmt.Printf("%s %s %s %g\n", hostBenchMetric, interleavedImpls[impl], m, vs[i])
		}
	}
}

// allHostMetrics are the names of all the inner part's metrics.
func allHostMetrics() []string {
	return append(append([]string(nil), hostMetrics...), interleavedMetrics...)
}

// machinedRound starts systemd-machined, measures it and stops it.
func machinedRound(b *testing.B, conn *dbus.Conn, leaders []uint32) []float64 {
	if out, err := exec.Command("systemctl", "start", "systemd-machined").CombinedOutput(); err != nil {
		b.Fatalf("start systemd-machined: %v: %s", err, out)
	}
	v := measureInHost(b, conn, unitMainPID(b, "systemd-machined.service"), leaders)
	if out, err := exec.Command("systemctl", "stop", "systemd-machined").CombinedOutput(); err != nil {
		b.Fatalf("stop systemd-machined: %v: %s", err, out)
	}
	return v
}

// berthdRound starts berthd on the system bus, measures it and stops it.
// Its paths are below a directory in the test host's /run, a tmpfs as on
// real hosts, where machined keeps its state too.
func berthdRound(b *testing.B, conn *dbus.Conn, leaders []uint32) []float64 {
	pid, stop := startHostBerthd(b, conn, busName)
	defer stop()
	return measureInHost(b, conn, pid, leaders)
}

// startHostBerthd starts berthd owning the bus name name, with its paths
// below a new directory in /run, waits until it owns the name and
// returns its PID and the function that stops it and removes the
// directory.
func startHostBerthd(b *testing.B, conn *dbus.Conn, name string) (pid uint32, stop func()) {
	root, err := os.MkdirTemp("/run", "berth-bench-")
	if err != nil {
		b.Fatal(err)
	}
	d := exec.Command(hostBerthd, "--root", root, "--stop-timeout", "5s", "--network=no", "--bus-name", name)
	d.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var stderr syncBuffer
	d.Stderr = &stderr
	if err := d.Start(); err != nil {
		_ = os.RemoveAll(root)
		b.Fatal(err)
	}
	stop = func() { _ = d.Process.Kill(); _ = d.Wait(); _ = os.RemoveAll(root) }
	if err := waitName(conn, name); err != nil {
		stop()
		b.Fatalf("%v: %s", err, &stderr)
	}
	return uint32(d.Process.Pid), stop
}

// waitName waits until the bus name has an owner.
func waitName(conn *dbus.Conn, name string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var has bool
		_ = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
		if has {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("berthd never owned %s", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// measureInHost runs the workload against whichever daemon owns the bus
// name (process pid) and returns the hostMetrics values. The RSS growth
// per machine is also given for anonymous memory alone: the rest is the
// program's code and data mapped from its files, whose first use can
// fall before or after the idle reading as the binary's layout shifts.
func measureInHost(b *testing.B, conn *dbus.Conn, pid uint32, leaders []uint32) []float64 {
	manager := conn.Object(busName, machine1.ManagerPath)
	time.Sleep(time.Second)
	idle, idleAnon := pidMemKiB(b, pid)
	var anon int
	regRate, first, full := registerAll(b, manager, leaders, func() int {
		var rss int
		rss, anon = pidMemKiB(b, pid)
		return rss
	})
	start := time.Now()
	for i := range leaders {
		mcall(b, manager, "UnregisterMachine", fmt.Sprintf("bench-%d", i))
	}
	unregRate := float64(len(leaders)) / time.Since(start).Seconds()
	perMachine := func(kib int) float64 { return float64(kib) * 1024 / float64(len(leaders)) }
	return []float64{regRate, unregRate,
		float64(idle), perMachine(full - idle),
		float64(full-first) * 1024 / float64(len(leaders)-firstMachines),
		perMachine(anon - idleAnon)}
}

// scopedSleepers starts n sleep processes, each moved into its own
// transient scope.
func scopedSleepers(ctx context.Context, b *testing.B, n int) []uint32 {
	sys, err := sd.NewSystemdConnectionContext(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer sys.Close()
	pids := sleepers(b, n)
	for i, pid := range pids {
		done := make(chan string, 1)
		props := []sd.Property{sd.PropPids(pid)}
		if _, err := sys.StartTransientUnitContext(ctx, fmt.Sprintf("bench-leader-%d.scope", i), "fail", props, done); err != nil {
			b.Fatalf("scope for leader %d: %v", i, err)
		}
		if res := <-done; res != "done" {
			b.Fatalf("scope for leader %d: %s", i, res)
		}
	}
	return pids
}

// unitMainPID returns a service's main PID.
func unitMainPID(b *testing.B, unit string) uint32 {
	out, err := exec.Command("systemctl", "show", "-p", "MainPID", "--value", unit).Output()
	if err != nil {
		b.Fatalf("MainPID of %s: %v", unit, err)
	}
	pid, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 32)
	if err != nil || pid == 0 {
		b.Fatalf("MainPID of %s: %q %v", unit, out, err)
	}
	return uint32(pid)
}

// pidMemKiB returns a process's resident set size and its anonymous
// part.
func pidMemKiB(b *testing.B, pid uint32) (rss, anon int) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	fields := map[string]*int{"VmRSS:": &rss, "RssAnon:": &anon}
	found := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && fields[f[0]] != nil {
			*fields[f[0]], err = strconv.Atoi(f[1])
			if err != nil {
				b.Fatalf("%s: %v", line, err)
			}
			found++
		}
	}
	if found != len(fields) {
		b.Fatalf("no VmRSS or RssAnon in /proc/%d/status", pid)
	}
	return rss, anon
}
