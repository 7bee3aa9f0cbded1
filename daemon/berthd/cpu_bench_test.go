package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's times.
const clockTicks = 100

// BenchmarkBerthdStartStopCPU measures berthd's own CPU time (user and
// system, all its threads) per machine start and stop: berthctl start of
// a busybox machine with the template's managed defaults (-U -b -n) on
// the embedded backend, then berthctl poweroff --force, in a loop, with
// berthd configuring each machine's ve-* link (addresses, DHCP, NAT) in
// its test network namespace. The machine's own processes (monitor,
// spawner, guest) are not counted. With pause=0s the cycles follow each
// other at once; with a pause of twice trimDelay after the start and
// after the stop, berthd goes quiet after each, as it does between
// starts in use, and trims its memory each time. The resident memory is
// berthd's a second after the last cycle; the context switches per cycle
// are those of its threads alive at the end. Run with -benchtime 30x or
// more: the times come in ticks of 10 ms.
func BenchmarkBerthdStartStopCPU(b *testing.B) {
	bd := newLifecycleBed(b)
	bus := bd.bus
	ctl := testbed.Binary(b, "berthctl")
	cycle := func(pause time.Duration) {
		runCtl(b, ctl, bus.Address, "start", bd.machine)
		time.Sleep(pause)
		runCtl(b, ctl, bus.Address, "poweroff", "--force", bd.machine)
		time.Sleep(pause)
	}
	for range 3 { // the first starts set up spares and state files
		cycle(0)
	}
	for _, pause := range []time.Duration{0, 2 * trimDelay} {
		b.Run(fmt.Sprintf("pause=%v", pause), func(b *testing.B) {
			time.Sleep(time.Second)
			before, switches := cpuTicks(b, bd.d.PID()), contextSwitches(b, bd.d.PID())
			n := 0
			for b.Loop() {
				cycle(pause)
				n++
			}
			time.Sleep(time.Second) // the links' teardown and the trim are asynchronous
			used := cpuTicks(b, bd.d.PID()) - before
			b.ReportMetric(float64(used)*1000/clockTicks/float64(n), "berthd-cpu-ms/cycle")
			b.ReportMetric(float64(contextSwitches(b, bd.d.PID())-switches)/float64(n), "berthd-ctxsw/cycle")
			b.ReportMetric(float64(residentKiB(b, bd.d.PID())), "berthd-rss-KiB")
		})
	}
}

// runCtl runs berthctl on the bus at addr and fails tb unless it exits 0.
func runCtl(tb testing.TB, bin, addr string, args ...string) {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + addr}
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("berthctl %v: %v\n%s", args, err, out)
	}
}

// cpuTicks returns the user and system time of process pid, in ticks.
func cpuTicks(tb testing.TB, pid int) uint64 {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	// After the command: state is field 3, utime 14 and stime 15.
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("parse /proc/%d/stat: %q", pid, data)
	}
	return utime + stime
}

// contextSwitches returns the voluntary and involuntary context switches
// of process pid's threads now alive: a thread that ended takes its
// switches with it, so short-lived threads are missed.
func contextSwitches(tb testing.TB, pid int) int {
	tb.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		tb.Fatal(err)
	}
	total := 0
	for _, t := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue // the thread ended
		}
		for line := range strings.Lines(string(data)) {
			k, v, ok := strings.Cut(line, ":")
			if ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				n, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil {
					tb.Fatalf("parse %s: %q", k, line)
				}
				total += n
			}
		}
	}
	return total
}

// residentKiB returns the resident memory of process pid, in KiB.
func residentKiB(tb testing.TB, pid int) int {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				tb.Fatalf("parse VmRSS: %q", line)
			}
			return kib
		}
	}
	tb.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
