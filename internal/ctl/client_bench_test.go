package ctl

import (
	"os"
	"os/exec"
	"sort"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// clientBenchRounds is how many timed calls each side makes, alternating.
const clientBenchRounds = 41

// BenchmarkCompareClientCall measures what a one-call verb costs the
// client: `berthctl start` of a machine without an image (berthd answers
// NoSuchImage at once), from the process's start to its exit,
// through the early path (package early), through berthctl's Go program
// (taken because of --bus-name), and with busctl, systemd's C client, on
// a private bus with a real berthd. Alternating rounds, medians; the
// ratios are against busctl. One run does a fixed amount of work
// whatever b.N is.
func BenchmarkCompareClientCall(b *testing.B) {
	bed := newBed(b)
	busctl := testbed.RequireTool(b, "busctl")
	env := append(os.Environ(), testbed.SystemBusEnv+"="+bed.bus.Address)
	sides := [][]string{
		{bed.bin, "start", "missing-image"},
		{bed.bin, "--bus-name=org.freedesktop.machine1", "start", "missing-image"},
		{busctl, "--system", "call", "org.freedesktop.machine1", "/org/freedesktop/machine1",
			berthManagerIface, "StartMachine", "s", "missing-image"},
	}
	times := make([][]time.Duration, len(sides))
	for round := 0; round <= clientBenchRounds; round++ {
		for i, args := range sides {
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = env
			start := time.Now()
			out, err := cmd.CombinedOutput()
			took := time.Since(start)
			if code := cmd.ProcessState.ExitCode(); code != 1 {
				b.Fatalf("%q: exit %d, want 1 (NoSuchImage): %v\n%s", args, code, err, out)
			}
			if round > 0 { // round 0 warms the page cache
				times[i] = append(times[i], took)
			}
		}
	}
	early, goPath, peer := medianMS(times[0]), medianMS(times[1]), medianMS(times[2])
	b.ReportMetric(early, "early-ms")
	b.ReportMetric(goPath, "go-ms")
	b.ReportMetric(peer, "busctl-ms")
	b.ReportMetric(early/peer, "early-ratio")
	b.ReportMetric(goPath/peer, "go-ratio")
}

// medianMS is the median of ds in milliseconds.
func medianMS(ds []time.Duration) float64 {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[len(s)/2]) / float64(time.Millisecond)
}
