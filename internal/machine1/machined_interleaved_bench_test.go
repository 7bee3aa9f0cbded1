package machine1_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/machine1"
)

// The latencies of BenchmarkCompareMachinedInTestHost are measured with
// the daemons side by side: systemd-machined and two berthds, each with
// the same 1,000 machines, the berthds under other bus names of the same
// length (so every message is as long as with the real name) and with
// machined's bus policy, and the client calls them in turn, one call
// each, in an order that goes through all six orders of the three. All
// three then see the same load, where in rounds seconds apart the load
// changed between rounds by more than the daemons differ. The second
// berthd is a control: its ratio to the first is what the method reads
// between two identical daemons, the noise in the ratios to machined.
var interleavedBusNames = [...]string{"org.berth.bench.machine1", "org.berth.bench.machine2"}

// interleavedImpls names the daemons, in the order interleavedRound
// returns their values.
var interleavedImpls = []string{"machined", "berthd", "berthd-control"}

const (
	machinedPolicy = "/usr/share/dbus-1/system.d/org.freedesktop.machine1.conf"
	// getCalls and listCalls are how many calls each daemon gets: the
	// p99 is then the 300th and the 30th slowest call.
	getCalls, listCalls = 30000, 3000
	// clientGCTurns is how many turns the client makes between its own
	// garbage collections, which it runs untimed: decoding a ListMachines
	// reply allocates about 630 KB, so with the collector on, the client
	// collected every few calls, in whichever call was being timed.
	clientGCTurns = 20
)

// interleavedMetrics are the numbers measured for each daemon, in order.
var interleavedMetrics = []string{
	"get-median-µs-interleaved", "get-p99-µs-interleaved", "list-median-µs-interleaved", "list-p99-µs-interleaved",
}

// interleavedRound runs systemd-machined and two berthds side by side,
// all with the machines of leaders, and returns each one's
// interleavedMetrics values, in interleavedImpls order.
func interleavedRound(b *testing.B, conn *dbus.Conn, leaders []uint32) [][]float64 {
	installInterleavedPolicy(b, conn)
	if out, err := exec.Command("systemctl", "start", "systemd-machined").CombinedOutput(); err != nil {
		b.Fatalf("start systemd-machined: %v: %s", err, out)
	}
	defer func() { _ = exec.Command("systemctl", "stop", "systemd-machined").Run() }()
	managers := []dbus.BusObject{conn.Object(busName, machine1.ManagerPath)}
	for _, name := range interleavedBusNames {
		_, stop := startHostBerthd(b, conn, name)
		defer stop()
		managers = append(managers, conn.Object(name, machine1.ManagerPath))
	}
	for _, m := range managers {
		for i, pid := range leaders {
			mcall(b, m, "RegisterMachine", fmt.Sprintf("bench-%d", i), []byte{}, "bench", "container", pid, "")
		}
	}
	time.Sleep(time.Second)
	// The client collects its garbage between turns, untimed (see
	// clientGCTurns).
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	get := interleavedLatencies(len(managers), getCalls, func(impl, i int) {
		mcall(b, managers[impl], "GetMachine", fmt.Sprintf("bench-%d", i%len(leaders)))
	})
	list := interleavedLatencies(len(managers), listCalls, func(impl, _ int) { mcall(b, managers[impl], "ListMachines") })
	v := make([][]float64, len(managers))
	for impl := range v {
		v[impl] = append(get[impl][:], list[impl][:]...)
	}
	return v
}

// installInterleavedPolicy gives the berthds' bus names the bus policy
// of systemd-machined's name and has the bus load it.
func installInterleavedPolicy(b *testing.B, conn *dbus.Conn) {
	data, err := os.ReadFile(machinedPolicy)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range interleavedBusNames {
		dst := filepath.Join("/etc/dbus-1/system.d", name+".conf")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(strings.ReplaceAll(string(data), busName, name)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if err := conn.BusObject().Call("org.freedesktop.DBus.ReloadConfig", 0).Err; err != nil {
		b.Fatalf("reload the bus configuration: %v", err)
	}
}

// interleavedLatencies makes n calls to each of k daemons (fn(impl, i),
// i counting that daemon's calls), one call to each in turn, the turns
// going through all orders of the k, and returns each one's median and
// p99 in µs. The caller turns the client's collector off: it collects
// every clientGCTurns turns, between them.
func interleavedLatencies(k, n int, fn func(impl, i int)) [][2]float64 {
	d := make([][]time.Duration, k)
	orders := permutations(k)
	for turn := 0; len(d[0]) < n; turn++ {
		for _, impl := range orders[turn%len(orders)] {
			start := time.Now()
			fn(impl, len(d[impl]))
			d[impl] = append(d[impl], time.Since(start))
		}
		if turn%clientGCTurns == clientGCTurns-1 {
			runtime.GC()
		}
	}
	v := make([][2]float64, k)
	for impl := range v {
		v[impl] = medianP99(d[impl])
	}
	return v
}

// permutations returns all orders of 0, ..., k-1.
func permutations(k int) [][]int {
	if k == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(k - 1) {
		for at := 0; at <= len(p); at++ {
			q := append(append(append([]int{}, p[:at]...), k-1), p[at:]...)
			out = append(out, q)
		}
	}
	return out
}

// medianP99 returns the median and the 99th percentile of d, in µs; it
// sorts d.
func medianP99(d []time.Duration) [2]float64 {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	us := func(x time.Duration) float64 { return float64(x.Nanoseconds()) / 1e3 }
	return [2]float64{us(d[len(d)/2]), us(d[len(d)*99/100])}
}
