package sysdbackend

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/imagebuild"
	"github.com/berth-dev/berth/internal/testbed"
)

// startBenchEnv makes the test binary run BenchmarkCompareMachinectlStart's
// inner part (inside the test host).
const startBenchEnv = "BERTH_START_BENCH_INSIDE"

// startBenchRounds is how many timed starts each side gets, alternating,
// after one untimed warm-up start each.
const startBenchRounds = 10

// settle is how long each side's daemon, started afresh for its round,
// may finish its own start-up before the timed start: a machine is
// normally started on a host whose machine manager has been running, and
// neither side's start-up work should land in the other's measurement.
const settle = 500 * time.Millisecond

// machinectlFiles are systemd-container's files machinectl start needs in
// the test host (the cached Debian image lacks the package; this host
// has the same systemd version). berth's own D-Bus policy for
// org.freedesktop.machine1 (installed by installBerth) lets root own and
// call the name, so machined's is not needed.
var machinectlFiles = []string{
	"/usr/bin/machinectl", "/usr/bin/systemd-nspawn", "/lib/systemd/systemd-machined",
	"/lib/systemd/system/systemd-machined.service", "/lib/systemd/system/systemd-nspawn@.service",
	"/lib/systemd/system/machines.target",
}

// BenchmarkCompareMachinectlStart measures, inside a Debian test host
// booted with systemd (unified cgroup hierarchy), the time from "start" to "running and registered"
// of a busybox machine: `berthctl start` with berthd's systemd backend,
// `berthctl start` with its embedded backend, and `machinectl start` of
// the same image with systemd-nspawn@.service and systemd-machined,
// alternating, and reports the medians and berth ÷ machinectl ratios.
// Each side owns org.freedesktop.machine1 in its rounds. It also logs,
// per side, the median CPU time the machine manager, the machine's unit
// (spawner and guest), systemd and the bus spent on a start, read from
// their cgroups, and the context switches of the manager's threads (a
// thread woken for nothing shows there). One run does a fixed amount of
// work whatever b.N is.
func BenchmarkCompareMachinectlStart(b *testing.B) {
	testbed.RequireRoot(b)
	if os.Getenv(startBenchEnv) != "" {
		startBenchInside(b)
		return
	}
	root := testbed.CloneDebianImage(b)
	installBerth(b, root)
	for _, f := range machinectlFiles {
		if strings.HasSuffix(f, ".service") || strings.HasSuffix(f, ".target") {
			body, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			writeFile(b, filepath.Join(root, f), string(body))
			continue
		}
		testbed.CopyFile(b, f, filepath.Join(root, f))
	}
	for _, name := range []string{"bb-berth", "bb-nspawn"} {
		dir := filepath.Join(root, "var/lib/machines", name)
		if err := imagebuild.Busybox(dir); err != nil {
			testbed.Unavailable(b, err.Error())
		}
		writeFile(b, filepath.Join(dir, "etc/inittab"), busyboxInittab)
	}
	testbed.CopySelf(b, filepath.Join(root, binInside))
	// Only the unified cgroup hierarchy in the test host: nspawn mounts
	// the v1 controllers of this hybrid host read-only, and the embedded
	// backend needs to create its groups.
	b.Setenv("SYSTEMD_NSPAWN_UNIFIED_HIERARCHY", "1")
	h := testbed.BootTestHost(b, root)
	out, err := h.Run([]string{startBenchEnv + "=1"}, binInside, "-test.run", "^$",
		"-test.bench", "^BenchmarkCompareMachinectlStart$", "-test.benchtime", "1x", "-test.v")
	if err != nil {
		b.Fatalf("inside the test host: %v\n%s", err, out)
	}
	var nspawn, sysd, emb float64
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "BENCH "); i >= 0 {
			if _, err := fmt.Sscanf(line[i:], "BENCH machinectl=%f systemd=%f embedded=%f", &nspawn, &sysd, &emb); err != nil {
				b.Fatalf("bad result line %q: %v", line, err)
			}
		}
	}
	if nspawn == 0 || sysd == 0 || emb == 0 {
		b.Fatalf("no result from the test host:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "CPU "); i >= 0 {
			b.Log(line[i:])
		}
	}
	b.ReportMetric(nspawn, "machinectl-ms")
	b.ReportMetric(sysd, "berth-systemd-ms")
	b.ReportMetric(emb, "berth-embedded-ms")
	b.ReportMetric(sysd/nspawn, "systemd-ratio")
	b.ReportMetric(emb/nspawn, "embedded-ratio")
}

// startSide is one way of starting and stopping the benchmark machine.
type startSide struct {
	name, machine string
	// daemon makes the side's daemon own org.freedesktop.machine1.
	daemon func(tb testing.TB)
	start  []string
	stop   func(tb testing.TB)
	// cpu names the cgroups charged with a start.
	cpu cpuParticipants
}

// startBenchInside runs the rounds inside the test host and logs the
// medians (ms) as one BENCH line.
func startBenchInside(b *testing.B) {
	b.Helper()
	bus, err := dbus.SystemBus()
	if err != nil {
		b.Fatal(err)
	}
	berthctl := filepath.Join(hostBinDir, "berthctl")
	berthSide := func(name, backend string) startSide {
		return startSide{
			name: name, machine: "bb-berth",
			daemon: func(tb testing.TB) { switchDaemon(tb, "berthd.service", backend) },
			start:  []string{berthctl, "start", "bb-berth"},
			stop:   func(tb testing.TB) { hostCmd(tb, berthctl, "poweroff", "--force", "bb-berth") },
			cpu:    cpuParticipants{manager: "berthd.service", machine: "berth-machine@bb-berth.service"},
		}
	}
	sides := []startSide{
		{
			name: "machinectl", machine: "bb-nspawn",
			daemon: func(tb testing.TB) { switchDaemon(tb, "systemd-machined.service", "") },
			start:  []string{"machinectl", "start", "bb-nspawn"},
			stop: func(tb testing.TB) {
				hostCmd(tb, "systemctl", "kill", "--signal=SIGKILL", "systemd-nspawn@bb-nspawn.service")
			},
			cpu: cpuParticipants{manager: "systemd-machined.service", machine: "systemd-nspawn@bb-nspawn.service"},
		},
		berthSide("systemd", "systemd"),
		berthSide("embedded", "embedded"),
	}
	times := make([][]time.Duration, len(sides))
	cpu := make([]cpuTimes, len(sides))
	switches := make([][]int, len(sides))
	for round := 0; round <= startBenchRounds; round++ {
		for i, s := range sides {
			s.daemon(b)
			time.Sleep(settle)
			cpu0, sw0 := s.cpu.sample(), s.cpu.managerSwitches()
			start := time.Now()
			if out, err := exec.Command(s.start[0], s.start[1:]...).CombinedOutput(); err != nil {
				log, _ := os.ReadFile(filepath.Join("/var/log/berth", s.machine+".log")) // the embedded backend's
				b.Fatalf("%s: %v: %s\n%s", strings.Join(s.start, " "), err, out, log)
			}
			waitMachine(b, bus, s.machine, true)
			if took := time.Since(start); round > 0 { // round 0 warms up (and chowns for -U)
				times[i] = append(times[i], took)
				cpu[i].add(cpu0, s.cpu.sample())
				switches[i] = append(switches[i], s.cpu.managerSwitches()-sw0)
			}
			s.stop(b)
			waitMachine(b, bus, s.machine, false)
		}
	}
	for i, s := range sides {
		b.Logf("CPU per start, ms (medians), %s: %v; manager's context switches %d", s.name, cpu[i], median(switches[i]))
	}
	b.Logf("BENCH machinectl=%.2f systemd=%.2f embedded=%.2f", ms(median(times[0])), ms(median(times[1])), ms(median(times[2])))
}

// embeddedDropIn lifts berthd.service's sandbox for the embedded
// backend's rounds: its machines run as berthd's children and would
// inherit it (the embedded backend is meant for hosts without systemd,
// where berthd does not run in that unit).
const embeddedDropIn = `CapabilityBoundingSet=~
NoNewPrivileges=no
SystemCallFilter=
SystemCallArchitectures=
RestrictAddressFamilies=
MemoryDenyWriteExecute=no
LockPersonality=no
RestrictRealtime=no
ProtectHostname=no
Delegate=yes
`

// switchDaemon stops both machine managers and starts unit, with
// BERTH_BACKEND=backend for berthd. The other one is masked: both units
// claim the bus name org.freedesktop.machine1, and with both loaded
// systemd refuses to load whichever comes second after a reload.
func switchDaemon(tb testing.TB, unit, backend string) {
	tb.Helper()
	_ = exec.Command("systemctl", "stop", "berthd.service", "systemd-machined.service").Run() // not loaded yet is fine
	other := "systemd-machined.service"
	if unit == other {
		other = "berthd.service"
	}
	hostCmd(tb, "systemctl", "unmask", "--runtime", unit)
	hostCmd(tb, "systemctl", "mask", "--runtime", other)
	dropIn := "/etc/systemd/system/berthd.service.d/backend.conf"
	if err := os.MkdirAll(filepath.Dir(dropIn), 0o755); err != nil {
		tb.Fatal(err)
	}
	body := "[Service]\nEnvironment=BERTH_BACKEND=" + backend + "\n"
	if backend == "embedded" {
		body += embeddedDropIn
	}
	if err := os.WriteFile(dropIn, []byte(body), 0o644); err != nil {
		tb.Fatal(err)
	}
	hostCmd(tb, "systemctl", "daemon-reload")
	hostCmd(tb, "systemctl", "start", unit)
}

func hostCmd(tb testing.TB, args ...string) {
	tb.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		tb.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// waitMachine waits until machine is (registered) or is not registered
// with whoever owns org.freedesktop.machine1.
func waitMachine(tb testing.TB, bus *dbus.Conn, machine string, registered bool) {
	tb.Helper()
	mgr := bus.Object("org.freedesktop.machine1", "/org/freedesktop/machine1")
	deadline := time.Now().Add(time.Minute)
	for {
		var p dbus.ObjectPath
		if (mgr.Call("org.freedesktop.machine1.Manager.GetMachine", 0, machine).Store(&p) == nil) == registered {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("machine %s registered=%v never reached", machine, !registered)
		}
		time.Sleep(time.Millisecond)
	}
}
