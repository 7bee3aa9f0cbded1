package testbed

import (
	"os/exec"
	"slices"
	"testing"
	"time"
)

// Timings are the durations of one side of a side-by-side benchmark
// (BenchmarkCompare...): collected alternately with the peer's, reported
// as medians.
type Timings []time.Duration

// Median returns the median duration (0 with none).
func (t Timings) Median() time.Duration {
	if len(t) == 0 {
		return 0
	}
	s := slices.Clone(t)
	slices.Sort(s)
	return s[len(s)/2]
}

// MedianMS returns the median in milliseconds, for b.ReportMetric.
func (t Timings) MedianMS() float64 { return MS(t.Median()) }

// MS returns d in milliseconds.
func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// TimeCommand runs name with args and exactly the environment env to its
// end and returns how long it took; a failure fails tb with the output.
func TimeCommand(tb testing.TB, env []string, name string, args ...string) time.Duration {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return time.Since(start)
}
