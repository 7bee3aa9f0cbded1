package lifecycle

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/supervisor"
	"github.com/berth-dev/berth/internal/testbed"
	"github.com/berth-dev/berth/internal/unitgen"
)

// BenchmarkCompareStart measures StartMachine to "running, guest init
// ready" for a busybox machine on the embedded backend, alternating with
// the same payload run bare (unshare + chroot + busybox init, no
// supervisor, no cgroup): the ratio is the embedded backend's overhead.
// The comparison with machinectl start (systemd + systemd-nspawn@) needs
// a host booted with systemd and is not measured here.
func BenchmarkCompareStart(b *testing.B) {
	bd := newBed(b)
	bd.image(b, "bench")
	unshare := testbed.RequireTool(b, "unshare")
	img := filepath.Join(bd.p.Pool, "bench")
	unit, _ := unitgen.UnitName("bench")
	ctx := context.Background()
	var berth, bare []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := bd.m.StartMachine(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		bd.waitGuestFast(b, "bench")
		berth = append(berth, time.Since(start))
		if err := bd.sup.Stop(ctx, unit, supervisor.StopOptions{Force: true}); err != nil {
			b.Fatal(err)
		}

		start = time.Now()
		// --kill-child: busybox init leaves unshare's process group (it
		// calls setsid), so only unshare's death signal ends it; a guest
		// left running would respawn its shell in a loop and load the
		// machine for every later round.
		cmd := exec.Command(unshare, "--pid", "--fork", "--kill-child", "--mount-proc", "chroot", img, "/sbin/init")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		waitChildReady(b, cmd.Process.Pid)
		bare = append(bare, time.Since(start))
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}
	mb, mp := median(berth), median(bare)
	b.ReportMetric(float64(mb.Microseconds())/1000, "berth-ms")
	b.ReportMetric(float64(mp.Microseconds())/1000, "bare-ms")
	b.ReportMetric(float64(mb)/float64(mp), "ratio")
}

func (bd *bed) waitGuestFast(tb testing.TB, machine string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		leader, err := bd.m.backend.Leader(context.Background(), machine)
		if err == nil && takes(leader, 12) { // SIGUSR2
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("guest never ready: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitChildReady waits until unshare's child has become busybox init and
// takes SIGUSR2.
func waitChildReady(tb testing.TB, pid int) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if f := strings.Fields(string(b)); len(f) > 0 {
			if child, err := strconv.Atoi(f[0]); err == nil && takes(child, 12) {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatal("bare guest never ready")
		}
		time.Sleep(time.Millisecond)
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
