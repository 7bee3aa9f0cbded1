package sysdbackend

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/supervisor"
	"github.com/berth-dev/berth/internal/testbed"
	"github.com/berth-dev/berth/internal/unitgen"
)

// benchRounds is how many starts of each backend the inner benchmark
// alternates.
const benchRounds = 20

// BenchmarkCompareBackends measures start to running (READY=1 from the
// main process) of the same generated unit on berth's two backends,
// alternating, inside a Debian test host booted with systemd: the systemd
// backend (a transient unit in machine.slice) and the embedded supervisor.
// The payload stands in for berth-nspawn, so the numbers are the
// backends' own cost. (machinectl start needs systemd-container in the
// test host and a complete berth-nspawn; not measured here.)
func BenchmarkCompareBackends(b *testing.B) {
	testbed.RequireRoot(b)
	root := testbed.CloneDebianImage(b)
	install(b, root)
	out := runInside(b, testbed.BootTestHost(b, root), "bench")
	var sysd, emb float64
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "BENCH "); i >= 0 {
			if _, err := fmt.Sscanf(line[i:], "BENCH systemd=%f embedded=%f", &sysd, &emb); err != nil {
				b.Fatalf("bad result line %q: %v", line, err)
			}
		}
	}
	if sysd == 0 || emb == 0 {
		b.Fatalf("no result from the test host:\n%s", out)
	}
	b.ReportMetric(sysd, "systemd-ms")
	b.ReportMetric(emb, "embedded-ms")
	b.ReportMetric(emb/sysd, "ratio")
}

// insideBench alternates starts on both backends and logs the medians.
func insideBench(ctx context.Context, t *testing.T, b *Backend) {
	sup, err := supervisor.New(paths.Default())
	if err != nil {
		t.Fatal(err)
	}
	u := insideUnit(t)
	// No limits: the test host's v1 controllers are read-only to it, and
	// both backends get the same unit.
	u.Limits = unitgen.Limits{}
	emb := u
	emb.Slice = "berthbench.slice" // beside systemd's machine.slice, not in it
	// systemd's release agent removes v1 groups that become empty, which
	// races the supervisor's next start (the embedded backend is meant for
	// hosts without systemd); a child group keeps the slice busy.
	keep, _ := filepath.Glob("/sys/fs/cgroup/*/")
	for _, h := range keep {
		_ = os.MkdirAll(filepath.Join(h, emb.Slice, "keep"), 0o755)
	}
	var sysd, sup2 []time.Duration
	for range benchRounds {
		start := time.Now()
		if err := b.Start(ctx, u); err != nil {
			t.Fatal(err)
		}
		sysd = append(sysd, time.Since(start))
		if err := b.Stop(ctx, u.Machine, false); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		if err := sup.Start(ctx, emb); err != nil {
			t.Fatal(err)
		}
		sup2 = append(sup2, time.Since(start))
		if err := sup.Stop(ctx, emb.Name, supervisor.StopOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("BENCH systemd=%.2f embedded=%.2f", ms(median(sysd)), ms(median(sup2)))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median[T cmp.Ordered](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
