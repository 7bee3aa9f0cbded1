package chownshift

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// benchRounds is the number of alternating berth/nspawn rounds per
// benchmark iteration.
const benchRounds = 5

// BenchmarkCompareChownShift compares berth's chown shift of a busybox
// image holding 100,000 extra files with the first start of /bin/true in
// that image by systemd-nspawn -U --private-users-ownership=chown (whose
// time is mostly the same chown). Both run alternately on the same tree,
// which is shifted back to 0 (untimed) after each. nspawn's later start
// (tree already shifted, no chown) is measured too, as the fixed cost of a
// container start to subtract, and so is berth's later shift (a no-op on a
// tree already at the range).
func BenchmarkCompareChownShift(b *testing.B) {
	image := testbed.BusyboxImage(b)
	nspawn := testbed.RequireTool(b, "systemd-nspawn")
	testbed.StartBus(b)
	testbed.ManyFiles(b, filepath.Join(image, "data"), 100, 1000)
	undo := func() {
		if _, err := Shift(image, 0, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	start := func() time.Duration {
		t0 := time.Now()
		cmd := exec.Command(nspawn, "-q", "-U", "--private-users-ownership=chown", "--keep-unit", "--register=no",
			"-M", "benchshift", "-D", image, "/bin/true")
		cmd.Env = os.Environ()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("systemd-nspawn: %v: %s", err, out)
		}
		return time.Since(t0)
	}
	var berth, berthLater, first, later testbed.Timings
	b.ResetTimer()
	for range b.N {
		for range benchRounds {
			t0 := time.Now()
			if _, err := Shift(image, 0x80000, Options{}); err != nil {
				b.Fatal(err)
			}
			berth = append(berth, time.Since(t0))
			t0 = time.Now()
			if res, err := Shift(image, 0x80000, Options{}); err != nil || res.Changed {
				b.Fatalf("later start: %+v, %v", res, err)
			}
			berthLater = append(berthLater, time.Since(t0))
			undo()
			first = append(first, start())
			later = append(later, start())
			undo()
		}
	}
	b.StopTimer()
	b.ReportMetric(berth.MedianMS(), "berth-chown-ms")
	b.ReportMetric(berthLater.MedianMS(), "berth-later-ms")
	b.ReportMetric(first.MedianMS(), "nspawn-first-start-ms")
	b.ReportMetric(later.MedianMS(), "nspawn-later-start-ms")
	b.ReportMetric(berth.MedianMS()/first.MedianMS(), "ratio-vs-first-start")
	b.ReportMetric(berth.MedianMS()/testbed.MS(first.Median()-later.Median()), "ratio-vs-nspawn-chown")
}
