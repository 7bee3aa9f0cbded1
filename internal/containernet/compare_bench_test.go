package containernet

import (
	"slices"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// BenchmarkCompareStartToExitVeth runs /bin/true with -n in one busybox
// image under berth-nspawn and systemd-nspawn with the same flags,
// alternating, inside a test network namespace, and reports the median
// start-to-exit times (ms) and the berth/nspawn ratio.
func BenchmarkCompareStartToExitVeth(b *testing.B) {
	testbed.RequireRoot(b)
	nspawnBin := testbed.RequireTool(b, "systemd-nspawn")
	bus := testbed.StartBus(b)
	berth := testbed.Binary(b, "berth-nspawn")
	img := testbed.BusyboxImage(b)
	ns := testbed.NewNetNS(b)
	args := []string{"-q", "--keep-unit", "--register=no", "--pipe", "-D", img, "-M", "benchveth", "-n", "/bin/true"}
	var tb, tn []time.Duration
	for i := 0; i < b.N; i++ {
		tb = append(tb, timeRun(b, ns, bus, berth, args))
		tn = append(tn, timeRun(b, ns, bus, nspawnBin, args))
	}
	b.ReportMetric(medianMS(tb), "berth-ms")
	b.ReportMetric(medianMS(tn), "nspawn-ms")
	b.ReportMetric(medianMS(tb)/medianMS(tn), "ratio")
}

// timeRun runs bin in ns to its end and returns how long it took.
func timeRun(b *testing.B, ns *testbed.NetNS, bus *testbed.Bus, bin string, args []string) time.Duration {
	b.Helper()
	cmd := inNetNS(ns, bin, args...)
	cmd.Env = spawnerEnv(bus)
	begin := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", bin, err, out)
	}
	return time.Since(begin)
}

func medianMS(d []time.Duration) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[len(s)/2]) / float64(time.Millisecond)
}
