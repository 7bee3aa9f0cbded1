package idmap

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/berth-dev/berth/internal/uidrange"
)

const benchRounds = 200

// BenchmarkCompareIdmapMount compares the cost of giving a machine its
// idmapped root (open_tree clone, MOUNT_ATTR_IDMAP, move_mount, and the
// unmount at the end) for a busybox image holding 100,000 extra files with
// the same for the plain small busybox image, alternating. The target is a
// ratio of at most 1.2: O(1) in the tree size. The user namespace carrying
// the mapping is made once per machine whatever the image; its cost is
// reported on its own.
func BenchmarkCompareIdmapMount(b *testing.B) {
	small := testbed.BusyboxImage(b)
	large := testbed.BusyboxImage(b)
	testbed.ManyFiles(b, filepath.Join(large, "data"), 100, 1000)
	ms := RootMappings(uidrange.Range{Base: 0x80000, Size: uidrange.Size})
	target := b.TempDir()
	newNS := func() (*UserNS, time.Duration) {
		t0 := time.Now()
		ns, err := NewUserNS(ms, ms)
		if err != nil {
			b.Fatal(err)
		}
		return ns, time.Since(t0)
	}
	mount := func(src string, ns *UserNS) time.Duration {
		t0 := time.Now()
		if err := Mount(src, target, ns, false); err != nil {
			b.Fatal(err)
		}
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	var ds, dl, dns testbed.Timings
	b.ResetTimer()
	for range b.N {
		var ns *UserNS
		for i := range benchRounds {
			// A fresh namespace every 10 rounds: made once per machine
			// start, it is not what the ratio is about.
			if i%10 == 0 {
				if ns != nil {
					ns.Close()
				}
				var d time.Duration
				ns, d = newNS()
				dns = append(dns, d)
			}
			// Swap the order every round: the first mount after the
			// namespace was made pays for warming it up.
			if i%2 == 0 {
				ds = append(ds, mount(small, ns))
				dl = append(dl, mount(large, ns))
			} else {
				dl = append(dl, mount(large, ns))
				ds = append(ds, mount(small, ns))
			}
		}
		ns.Close()
	}
	b.StopTimer()
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(dl.Median()), "large-idmap-us")
	b.ReportMetric(us(ds.Median()), "small-idmap-us")
	b.ReportMetric(us(dl.Median())/us(ds.Median()), "ratio")
	b.ReportMetric(us(dns.Median()), "userns-us")
	_ = os.Remove(target)
}
