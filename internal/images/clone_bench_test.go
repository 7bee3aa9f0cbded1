package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// BenchmarkCompareClone clones the Debian test image with berth's Clone
// and with `cp -a --reflink=auto` (what machined's copy amounts to on a
// file system without snapshots), alternating, into a pool on the same
// file system, and reports both medians and their ratio.
func BenchmarkCompareClone(b *testing.B) {
	compareClone(b, testbed.DebianImage(b), 3)
}

// BenchmarkCompareCloneTree is BenchmarkCompareClone on the issue's
// synthetic image, 1 GiB in 50,000 files, one run of each.
func BenchmarkCompareCloneTree(b *testing.B) {
	testbed.RequireRoot(b)
	src := filepath.Join(b.TempDir(), "tree")
	if err := makeTree(src, 500, 100, 1<<30); err != nil {
		b.Fatal(err)
	}
	compareClone(b, src, 1)
}

// makeTree writes dirs×files files of varied sizes adding up to about
// total bytes below root.
func makeTree(root string, dirs, files int, total int64) error {
	avg := total / int64(dirs*files)
	block := make([]byte, 4*avg)
	for i := range block {
		block[i] = byte(i * 7)
	}
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for f := range files {
			size := avg / 2 * int64(1+(d+f)%3) // avg/2, avg, 3avg/2
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", f)), block[:size], 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// compareClone alternates berth's Clone of src and cp -a of src, rounds
// times per b.N.
func compareClone(b *testing.B, src string, rounds int) {
	p := testbed.Paths(b)
	p.ImageDirs[0] = filepath.Dir(src)
	p.Pool = filepath.Join(b.TempDir(), "pool") // same file system as the cache on our hosts
	if err := os.MkdirAll(p.Pool, 0o700); err != nil {
		b.Fatal(err)
	}
	m := New(p)
	ctx := context.Background()
	berth := func(i int) error { return m.Clone(ctx, filepath.Base(src), fmt.Sprintf("b%d", i), false, nil) }
	cp := func(i int) error {
		out, err := exec.Command("cp", "-a", "--reflink=auto", src, filepath.Join(p.Pool, fmt.Sprintf("c%d", i))).CombinedOutput()
		if err != nil {
			return fmt.Errorf("cp: %v: %s", err, out)
		}
		return nil
	}
	clear := func() {
		ents, _ := os.ReadDir(p.Pool)
		for _, e := range ents {
			if err := os.RemoveAll(filepath.Join(p.Pool, e.Name())); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Warm the page cache with one untimed run of each.
	for _, f := range []func(int) error{berth, cp} {
		if err := f(-1); err != nil {
			b.Fatal(err)
		}
	}
	clear()
	var tb, tc []time.Duration
	b.ResetTimer()
	for i := range rounds * b.N {
		for _, run := range []struct {
			f   func(int) error
			out *[]time.Duration
		}{{berth, &tb}, {cp, &tc}} {
			start := time.Now()
			if err := run.f(i); err != nil {
				b.Fatal(err)
			}
			*run.out = append(*run.out, time.Since(start))
			b.StopTimer()
			clear()
			b.StartTimer()
		}
	}
	mb, mc := median(tb), median(tc)
	b.ReportMetric(mb.Seconds(), "berth-s")
	b.ReportMetric(mc.Seconds(), "cp-s")
	b.ReportMetric(mb.Seconds()/mc.Seconds(), "ratio")
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
