package machine1_test

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/machine1"
	"github.com/berth-dev/berth/internal/testbed"
)

// benchMachines is how many machines the latency numbers are taken with.
const benchMachines = 1000

// BenchmarkCompareMachined measures berthd on a private bus: ListMachines
// and GetMachine latency (median, p99) with 1,000 registered machines,
// Register and Unregister rates, idle RSS and RSS per machine (from idle,
// and from the first 100 machines on: see registerAll), on this host. systemd-machined needs systemd as PID 1: the side-by-side run with
// ratios is BenchmarkCompareMachinedInTestHost, in a Debian test host.
// One run does a fixed amount of work whatever b.N is.
func BenchmarkCompareMachined(b *testing.B) {
	testbed.RequireRoot(b)
	bus := testbed.StartBus(b)
	d := startBerthd(b, bus, tmpfsDir(b))
	conn := bus.Conn(b)
	manager := conn.Object(busName, machine1.ManagerPath)
	leaders := sleepers(b, benchMachines)
	time.Sleep(time.Second)
	idle := rssKiB(b, d)

	regRate, first, full := registerAll(b, manager, leaders, func() int { return rssKiB(b, d) })

	list := latencies(200, func(int) { mcall(b, manager, "ListMachines") })
	get := latencies(5000, func(i int) { mcall(b, manager, "GetMachine", fmt.Sprintf("bench-%d", i%benchMachines)) })

	start := time.Now()
	for i := range leaders {
		mcall(b, manager, "UnregisterMachine", fmt.Sprintf("bench-%d", i))
	}
	unregRate := float64(benchMachines) / time.Since(start).Seconds()

	b.ReportMetric(list[0], "list-median-µs")
	b.ReportMetric(list[1], "list-p99-µs")
	b.ReportMetric(get[0], "get-median-µs")
	b.ReportMetric(get[1], "get-p99-µs")
	b.ReportMetric(regRate, "register/s")
	b.ReportMetric(unregRate, "unregister/s")
	b.ReportMetric(float64(idle), "idle-RSS-KiB")
	b.ReportMetric(float64(full-idle)*1024/benchMachines, "RSS-B/machine")
	b.ReportMetric(float64(full-first)*1024/(benchMachines-firstMachines), "RSS-B/machine-after-first")
}

// firstMachines are registered, and the RSS read, before the rest: the
// RSS growth from there on is the cost of each further machine, without
// what the daemon sets up once, at its first registrations.
const firstMachines = 100

// registerAll registers a machine for each leader and returns the
// registration rate and the RSS (read by rss, each time after a second
// of rest, as idle is read) after the first firstMachines and after all
// of them. The rest is not counted in the rate.
func registerAll(b *testing.B, manager dbus.BusObject, leaders []uint32, rss func() int) (rate float64, first, full int) {
	var took time.Duration
	for _, part := range [][2]int{{0, firstMachines}, {firstMachines, len(leaders)}} {
		start := time.Now()
		for i := part[0]; i < part[1]; i++ {
			mcall(b, manager, "RegisterMachine", fmt.Sprintf("bench-%d", i), []byte{}, "bench", "container", leaders[i], "")
		}
		took += time.Since(start)
		time.Sleep(time.Second) // settled, as idle was measured
		first, full = full, rss()
	}
	return float64(len(leaders)) / took.Seconds(), first, full
}

func mcall(b *testing.B, o dbus.BusObject, method string, args ...any) {
	if c := o.Call(mgr+method, 0, args...); c.Err != nil {
		b.Fatalf("%s: %v", method, c.Err)
	}
}

// latencies runs fn n times and returns the median and p99 in µs.
func latencies(n int, fn func(i int)) [2]float64 {
	d := make([]time.Duration, n)
	for i := range d {
		start := time.Now()
		fn(i)
		d[i] = time.Since(start)
	}
	return medianP99(d)
}

// sleepers starts n sleep processes to lead the benchmark's machines.
func sleepers(b *testing.B, n int) []uint32 {
	var pids []uint32
	for i := 0; i < n; i++ {
		cmd := exec.Command("sleep", "100000")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGKILL); _ = cmd.Wait() })
		pids = append(pids, uint32(cmd.Process.Pid))
	}
	return pids
}

// rssKiB returns berthd's resident set size.
func rssKiB(b *testing.B, d *testbed.Berthd) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.PID()))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// tmpfsDir returns a directory on tmpfs when /dev/shm is one, as /run (where
// berthd keeps its state) is on real hosts; else a plain temp directory.
func tmpfsDir(b *testing.B) string {
	dir, err := os.MkdirTemp("/dev/shm", "berth-bench-")
	if err != nil {
		return b.TempDir()
	}
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
