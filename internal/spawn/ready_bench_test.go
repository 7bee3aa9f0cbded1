package spawn_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// managedFlags are the unit template's managed defaults that matter for a
// start: boot, a private user namespace with an idmapped root, a veth.
var managedFlags = []string{"-q", "-U", "-b", "-n", "--keep-unit", "--settings=override", "--link-journal=try-guest"}

// BenchmarkSpawnToReady boots a busybox image (busybox init) with the
// managed defaults (-U -b -n --keep-unit) under berth-nspawn and
// systemd-nspawn, alternating, in a test network namespace, and times
// each from the spawner's start to the READY=1 it sends to $NOTIFY_SOCKET
// (a socket the benchmark reads). The container is then killed through its
// leader, untimed. "register=no" runs without a machine manager;
// "register=yes" registers both with berthd on a private bus, the
// spawners in berthd's network namespace as under the unit. It reports
// the medians (ms) and the berth/nspawn ratio. Each spawner boots its own
// copy of the image, so neither sees the other's ownership.
func BenchmarkSpawnToReady(b *testing.B) {
	testbed.RequireRoot(b)
	nspawnBin := testbed.RequireTool(b, "systemd-nspawn")
	berth := testbed.Binary(b, "berth-nspawn")
	for _, register := range []string{"no", "yes"} {
		b.Run("register="+register, func(b *testing.B) {
			bus := testbed.StartBus(b)
			p, env := privateRoot(b)
			copyMachineID(b, p.Root)
			ns := testbed.NewNetNS(b)
			if register == "yes" {
				ns = testbed.StartBerthd(b, bus, p).NetNS(b)
			}
			env = append(env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv+"="+bus.Address)
			name := "bench-ready-" + strconv.Itoa(os.Getpid())
			run := func(bin, img string) time.Duration {
				args := append(append([]string{"--register=" + register}, managedFlags...), "-D", img, "-M", name)
				return timeToReady(b, ns, env, bin, args)
			}
			bImg, nImg := testbed.BusyboxImage(b), testbed.BusyboxImage(b)
			var tb, tn testbed.Timings
			for i := 0; i < max(b.N, startRounds); i++ {
				tb = append(tb, run(berth, bImg))
				tn = append(tn, run(nspawnBin, nImg))
			}
			b.ReportMetric(tb.MedianMS(), "berth-ms")
			b.ReportMetric(tn.MedianMS(), "nspawn-ms")
			b.ReportMetric(tb.MedianMS()/tn.MedianMS(), "ratio")
		})
	}
}

// copyMachineID puts the host's machine ID below root, where spawners
// with BERTH_ROOT read it for the veth's MAC addresses.
func copyMachineID(b *testing.B, root string) {
	b.Helper()
	id, err := os.ReadFile("/etc/machine-id")
	if err == nil {
		err = os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(root, "etc/machine-id"), id, 0o444)
	}
	if err != nil {
		testbed.Unavailable(b, "no host machine ID: "+err.Error())
	}
}

// timeToReady starts bin with args in ns, with NOTIFY_SOCKET on a socket
// of its own, and returns the time from the start to READY=1. It then
// kills the container's leader (named by X_NSPAWN_LEADER_PID) and waits
// for the spawner.
func timeToReady(b *testing.B, ns *testbed.NetNS, env []string, bin string, args []string) time.Duration {
	b.Helper()
	sockPath := filepath.Join(b.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(env, "NOTIFY_SOCKET="+sockPath)
	out, _ := os.CreateTemp(b.TempDir(), "out")
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	var begin time.Time
	if err := ns.Do(func() error { begin = time.Now(); return cmd.Start() }); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	took, leader := awaitReady(b, conn, begin, done)
	if leader > 0 {
		_ = syscall.Kill(leader, syscall.SIGKILL)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
	}
	if took == 0 {
		log, _ := os.ReadFile(out.Name())
		b.Fatalf("%s sent no READY=1: %v\n%s", bin, cmd.ProcessState, log)
	}
	return took
}

// awaitReady reads notify messages until READY=1 and the leader's PID
// were both seen (systemd-nspawn sends them apart), or the spawner ended.
// It returns the time from begin to READY=1 (0 if none came).
func awaitReady(b *testing.B, conn *net.UnixConn, begin time.Time, done <-chan struct{}) (time.Duration, int) {
	b.Helper()
	msgs := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	var took time.Duration
	leader := 0
	for took == 0 || leader == 0 {
		select {
		case m := <-msgs:
			for _, line := range strings.Split(m, "\n") {
				if line == "READY=1" && took == 0 {
					took = time.Since(begin)
				}
				if v, ok := strings.CutPrefix(line, "X_NSPAWN_LEADER_PID="); ok {
					leader, _ = strconv.Atoi(v)
				}
			}
		case <-done:
			return took, leader
		case <-time.After(time.Minute):
			return took, leader
		}
	}
	return took, leader
}
