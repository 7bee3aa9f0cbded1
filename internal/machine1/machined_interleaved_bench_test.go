package machine1_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/machine1"
)

// The interleaved part of BenchmarkCompareMachinedInTestHost measures
// the two daemons' call latency at the same time: both run side by side,
// each with the same 1,000 machines, berthd under another bus name of
// the same length (so every message is as long as with the real name)
// and the same bus policy, and the client alternates blocks of calls
// between them. The rounds' latencies come from windows a few seconds
// apart, and on a shared machine the load changes between them by more
// than the daemons differ; alternating blocks of a few milliseconds
// gives both daemons the same load.
const (
	interleavedBusName = "org.berth.bench.machine1"
	machinedPolicy     = "/usr/share/dbus-1/system.d/org.freedesktop.machine1.conf"
	// getBlock and listBlock are how many calls in a row go to one
	// daemon (about 10 and 30 ms); the order of the two daemons
	// alternates from one pair of blocks to the next.
	getBlock, listBlock = 50, 10
	// getCalls and listCalls are how many calls each daemon gets: the
	// p99 is then the 50th and the 10th slowest, not a single outlier.
	getCalls, listCalls = 5000, 1000
)

// interleavedMetrics are the numbers the interleaved part measures for
// each implementation, in order.
var interleavedMetrics = []string{
	"get-median-µs-interleaved", "get-p99-µs-interleaved", "list-median-µs-interleaved", "list-p99-µs-interleaved",
}

// interleavedRound runs systemd-machined and berthd side by side, both
// with the machines of leaders, and returns each one's
// interleavedMetrics values (machined's first).
func interleavedRound(b *testing.B, conn *dbus.Conn, leaders []uint32) [2][]float64 {
	installInterleavedPolicy(b, conn)
	if out, err := exec.Command("systemctl", "start", "systemd-machined").CombinedOutput(); err != nil {
		b.Fatalf("start systemd-machined: %v: %s", err, out)
	}
	defer func() { _ = exec.Command("systemctl", "stop", "systemd-machined").Run() }()
	_, stop := startHostBerthd(b, conn, interleavedBusName)
	defer stop()
	managers := [2]dbus.BusObject{
		conn.Object(busName, machine1.ManagerPath), conn.Object(interleavedBusName, machine1.ManagerPath),
	}
	for _, m := range managers {
		for i, pid := range leaders {
			mcall(b, m, "RegisterMachine", fmt.Sprintf("bench-%d", i), []byte{}, "bench", "container", pid, "")
		}
	}
	time.Sleep(time.Second)
	get := interleavedLatencies(getCalls, getBlock, func(impl, i int) {
		mcall(b, managers[impl], "GetMachine", fmt.Sprintf("bench-%d", i%len(leaders)))
	})
	list := interleavedLatencies(listCalls, listBlock, func(impl, _ int) { mcall(b, managers[impl], "ListMachines") })
	var v [2][]float64
	for impl := range v {
		v[impl] = []float64{get[impl][0], get[impl][1], list[impl][0], list[impl][1]}
	}
	return v
}

// installInterleavedPolicy gives interleavedBusName the bus policy of
// systemd-machined's name and has the bus load it.
func installInterleavedPolicy(b *testing.B, conn *dbus.Conn) {
	data, err := os.ReadFile(machinedPolicy)
	if err != nil {
		b.Fatal(err)
	}
	policy := strings.ReplaceAll(string(data), busName, interleavedBusName)
	dst := filepath.Join("/etc/dbus-1/system.d", interleavedBusName+".conf")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte(policy), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := conn.BusObject().Call("org.freedesktop.DBus.ReloadConfig", 0).Err; err != nil {
		b.Fatalf("reload the bus configuration: %v", err)
	}
}

// interleavedLatencies makes n calls to each of the two implementations
// (fn(impl, i), impl 0 or 1, i counting each one's calls), in blocks of
// block calls, alternately, and returns each one's median and p99 in µs.
func interleavedLatencies(n, block int, fn func(impl, i int)) [2][2]float64 {
	var d [2][]time.Duration
	for pair := 0; len(d[1]) < n; pair++ {
		for k := range 2 {
			impl := (pair + k) % 2
			for j := 0; j < block && len(d[impl]) < n; j++ {
				i := len(d[impl])
				start := time.Now()
				fn(impl, i)
				d[impl] = append(d[impl], time.Since(start))
			}
		}
	}
	return [2][2]float64{medianP99(d[0]), medianP99(d[1])}
}

// medianP99 returns the median and the 99th percentile of d, in µs; it
// sorts d.
func medianP99(d []time.Duration) [2]float64 {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	us := func(x time.Duration) float64 { return float64(x.Nanoseconds()) / 1e3 }
	return [2]float64{us(d[len(d)/2]), us(d[len(d)*99/100])}
}
