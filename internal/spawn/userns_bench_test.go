package spawn_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// BenchmarkComparePrivateUsers measures -U start-to-exit of /bin/true on
// an image of 100,000 files: berth with an idmapped root (map), berth with
// chown (the first start, which shifts the image, and a later one), and
// systemd-nspawn -U with chown (a first start), plus berth's map on the
// small busybox image. Every chown is undone (untimed) before the next
// round, so each first start shifts the whole tree. It reports medians (ms)
// and the ratios of the targets: map on the big image against map
// on the small one, berth's chown against nspawn's.
func BenchmarkComparePrivateUsers(b *testing.B) {
	testbed.RequireRoot(b)
	nspawnBin := testbed.RequireTool(b, "systemd-nspawn")
	bus := testbed.StartBus(b)
	berth := testbed.Binary(b, "berth-nspawn")
	small := testbed.BusyboxImage(b)
	big := testbed.BusyboxImage(b)
	testbed.ManyFiles(b, filepath.Join(big, "data"), 100, 1000)
	_, rootEnv := privateRoot(b) // berth's range records go below a temp root
	env := append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + bus.Address}, rootEnv...)
	name := "berth-bench-userns-" + strconv.Itoa(os.Getpid())
	run := func(bin, img string, flags ...string) time.Duration {
		args := append([]string{"-q", "--keep-unit", "--register=no", "--pipe", "--resolv-conf=off",
			"--timezone=off", "-D", img, "-M", name}, flags...)
		return testbed.TimeCommand(b, env, bin, append(args, "/bin/true")...)
	}
	undo := func() { run(berth, big, "--private-users=0", "--private-users-chown") }
	var mapBig, mapSmall, chownFirst, chownLater, nspawnChown testbed.Timings
	for i := 0; i < b.N; i++ {
		mapBig = append(mapBig, run(berth, big, "-U", "--private-users-ownership=map"))
		mapSmall = append(mapSmall, run(berth, small, "-U", "--private-users-ownership=map"))
		chownFirst = append(chownFirst, run(berth, big, "-U", "--private-users-ownership=chown"))
		chownLater = append(chownLater, run(berth, big, "-U", "--private-users-ownership=chown"))
		undo()
		nspawnChown = append(nspawnChown, run(nspawnBin, big, "-U", "--private-users-ownership=chown"))
		undo()
	}
	b.ReportMetric(mapBig.MedianMS(), "berth-map-100k-ms")
	b.ReportMetric(mapSmall.MedianMS(), "berth-map-small-ms")
	b.ReportMetric(chownFirst.MedianMS(), "berth-chown-first-ms")
	b.ReportMetric(chownLater.MedianMS(), "berth-chown-later-ms")
	b.ReportMetric(nspawnChown.MedianMS(), "nspawn-chown-first-ms")
	b.ReportMetric(mapBig.MedianMS()/mapSmall.MedianMS(), "map-ratio")
	b.ReportMetric(chownFirst.MedianMS()/nspawnChown.MedianMS(), "chown-ratio")
}
