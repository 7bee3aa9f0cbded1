package spawn_test

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// timedCPU runs a command to its end and returns how long it took and the
// CPU time it and the children it waited for used (user and system).
func timedCPU(b *testing.B, env []string, name string, args ...string) (wall, cpu time.Duration) {
	b.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return time.Since(start), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// runs collects the wall and CPU times of one command's runs.
type runs struct{ wall, cpu []time.Duration }

func (r *runs) add(wall, cpu time.Duration) {
	r.wall, r.cpu = append(r.wall, wall), append(r.cpu, cpu)
}

func median(d []time.Duration) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[len(s)/2]) / float64(time.Millisecond)
}

// startRounds is the least number of alternating rounds a start-to-exit
// comparison runs, so that the medians hold on a shared, noisy machine
// whatever b.N the benchmark framework picks.
const startRounds = 21

// BenchmarkCompareStartToExit runs /bin/true in the same busybox image
// under berth-nspawn and systemd-nspawn with the same flags, alternating,
// plus a plain unshare+chroot of the same command as the floor, and
// reports the medians (ms) of wall and CPU time (user+system, the waited
// children included) and the berth/nspawn ratios. On a loaded machine the
// CPU times are the steadier figures.
func BenchmarkCompareStartToExit(b *testing.B) {
	testbed.RequireRoot(b)
	nspawnBin := testbed.RequireTool(b, "systemd-nspawn")
	bus := testbed.StartBus(b)
	berth := testbed.Binary(b, "berth-nspawn")
	img := testbed.BusyboxImage(b)
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + bus.Address}
	for _, mode := range []struct {
		name           string
		flags, unshare []string
	}{
		{"plain", nil, nil},
		{"private-network", []string{"--private-network"}, []string{"--net"}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			args := append([]string{"-q", "--keep-unit", "--register=no", "--pipe", "-D", img, "-M", "bench-" + strconv.Itoa(os.Getpid())}, mode.flags...)
			args = append(args, "/bin/true")
			floor := append([]string{"--mount", "--pid", "--uts", "--ipc", "--fork"}, mode.unshare...)
			floor = append(floor, "chroot", img, "/bin/true")
			var tb, tn, tf runs
			for i := 0; i < max(b.N, startRounds); i++ {
				tb.add(timedCPU(b, env, berth, args...))
				tn.add(timedCPU(b, env, nspawnBin, args...))
				tf.add(timedCPU(b, env, "unshare", floor...))
			}
			b.ReportMetric(median(tb.wall), "berth-ms")
			b.ReportMetric(median(tn.wall), "nspawn-ms")
			b.ReportMetric(median(tf.wall), "floor-ms")
			b.ReportMetric(median(tb.wall)/median(tn.wall), "ratio")
			b.ReportMetric(median(tb.cpu), "berth-cpu-ms")
			b.ReportMetric(median(tn.cpu), "nspawn-cpu-ms")
			b.ReportMetric(median(tf.cpu), "floor-cpu-ms")
			b.ReportMetric(median(tb.cpu)/median(tn.cpu), "cpu-ratio")
		})
	}
}

// BenchmarkCompareSpawnerMemory reports the spawner's resident memory
// (VmRSS and VmHWM, KiB) while a container runs, for berth-nspawn and
// systemd-nspawn.
func BenchmarkCompareSpawnerMemory(b *testing.B) {
	testbed.RequireRoot(b)
	nspawnBin := testbed.RequireTool(b, "systemd-nspawn")
	bus := testbed.StartBus(b)
	berth := testbed.Binary(b, "berth-nspawn")
	img := testbed.BusyboxImage(b)
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + bus.Address}
	args := []string{"-q", "--keep-unit", "--register=no", "--pipe", "-D", img, "-M", "benchmem-" + strconv.Itoa(os.Getpid()), "/bin/sleep", "1"}
	var rss, hwm [2][]float64
	for i := 0; i < b.N; i++ {
		for j, bin := range []string{berth, nspawnBin} {
			r, h := residentWhileRunning(b, env, bin, args)
			rss[j], hwm[j] = append(rss[j], r), append(hwm[j], h)
		}
	}
	b.ReportMetric(medianF(rss[0]), "berth-rss-KiB")
	b.ReportMetric(medianF(hwm[0]), "berth-hwm-KiB")
	b.ReportMetric(medianF(rss[1]), "nspawn-rss-KiB")
	b.ReportMetric(medianF(hwm[1]), "nspawn-hwm-KiB")
	b.ReportMetric(medianF(rss[0])/medianF(rss[1]), "rss-ratio")
}

// residentWhileRunning starts bin, waits until its container runs, and
// reads the spawner's VmRSS and VmHWM.
func residentWhileRunning(b *testing.B, env []string, bin string, args []string) (float64, float64) {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := exec.Command("pgrep", "-f", "^/bin/sleep 1$").Output()
		if len(out) > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	status := readStatus(b, cmd.Process.Pid)
	return status["VmRSS"], status["VmHWM"]
}

func readStatus(b *testing.B, pid int) map[string]float64 {
	b.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if f := strings.Fields(v); ok && len(f) == 2 && f[1] == "kB" {
			n, _ := strconv.ParseFloat(f[0], 64)
			out[k] = n
		}
	}
	return out
}

func medianF(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
