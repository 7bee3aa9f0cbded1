package sysdbackend

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/enable"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/supervisor"
	"github.com/berth-dev/berth/internal/testbed"
	"github.com/berth-dev/berth/internal/unitgen"
)

// Inside the booted test host, the test binary plays two more roles,
// chosen by environment variables: the inner test, and a Type=notify
// payload that stands in for berth-nspawn.
const (
	insideEnv  = "BERTH_SYSTEM_INSIDE"
	payloadEnv = "BERTH_SYSTEM_PAYLOAD"
	binInside  = "/usr/local/bin/berth-sysd.test"
)

func TestMain(m *testing.M) {
	supervisor.Main() // the embedded backend's monitors, in the benchmark
	if os.Getenv(payloadEnv) != "" {
		os.Exit(notifyPayload())
	}
	os.Exit(m.Run())
}

// notifyPayload sends READY=1 from the main process, as berth-nspawn
// does, then waits to be stopped.
func notifyPayload() int {
	conn, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
	if err != nil {
		return 1
	}
	if _, err := conn.Write([]byte("READY=1\nSTATUS=Container running.")); err != nil {
		return 1
	}
	// Wait for the stop signal. (A bare select{} can end the process as a
	// deadlock when no other goroutine exists.)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, unix.SIGTERM, unix.SIGINT)
	<-stop
	return 0
}

// TestSystemSystemdBackend boots a Debian test host with systemd as PID 1
// (testbed.BootTestHost), installs berth's units and this test binary
// inside (also as berth-nspawn, in its payload role), and runs itself
// (with BERTH_SYSTEM_INSIDE set: systemInside) there against the real
// systemd, in three phases around two reboots of the test host:
// transient units and enable; after a reboot the enabled machine runs;
// after disable and another reboot it does not.
func TestSystemSystemdBackend(t *testing.T) {
	testbed.RequireRoot(t)
	if phase := os.Getenv(insideEnv); phase != "" {
		systemInside(t, phase)
		return
	}
	root := testbed.CloneDebianImage(t)
	install(t, root)
	h := testbed.BootTestHost(t, root)
	runInside(t, h, "lifecycle")
	h.Reboot()
	runInside(t, h, "enabled")
	h.Reboot()
	runInside(t, h, "disabled")
}

// runInside runs one phase of this test's inside part (systemInside) in
// the test host and returns its output.
func runInside(t testing.TB, h *testbed.TestHost, phase string) string {
	t.Helper()
	out, err := h.Run([]string{insideEnv + "=" + phase}, binInside, "-test.run", "^TestSystemSystemdBackend$", "-test.v", "-test.count=1")
	t.Logf("inside the test host, phase %s:\n%s", phase, out)
	if err != nil {
		t.Fatalf("inner test, phase %s: %v", phase, err)
	}
	return out
}

// install copies the units (as make install writes them, with @BINDIR@
// /usr/local/bin) and this test binary into the test host.
func install(t testing.TB, root string) {
	t.Helper()
	for _, u := range []string{unitgen.Template, unitgen.Target} {
		b, err := os.ReadFile(filepath.Join(testbed.RepoRoot(t), "units", u))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, hostUnitDir, u), strings.ReplaceAll(string(b), "@BINDIR@", hostBinDir))
	}
	testbed.CopySelf(t, filepath.Join(root, binInside))
	testbed.CopySelf(t, filepath.Join(root, hostBinDir, "berth-nspawn")) // payload role, by drop-in
}

// systemInside is TestSystemSystemdBackend's part inside the booted test
// host; BERTH_SYSTEM_INSIDE names the phase.
func systemInside(t *testing.T, phase string) {
	if !Booted("/") {
		t.Fatal("Booted is false under systemd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	switch phase {
	case "lifecycle":
		insideLifecycle(ctx, t, b, insideUnit(t))
		insideEnable(t)
	case "enabled":
		unit, st, err := b.Active(ctx, "sys3")
		if err != nil || unit != "berth-nspawn@sys3.service" || st != "running" {
			t.Fatalf("enabled machine after reboot: %q %q %v\n%s", unit, st, err, systemctl("status", "berth-nspawn@sys3.service"))
		}
		if _, err := enable.Disable(paths.Default(), "sys3"); err != nil {
			t.Fatal(err)
		}
	case "bench":
		insideBench(ctx, t, b)
	case "disabled":
		if unit, st, err := b.Active(ctx, "sys3"); err != nil || st != "" {
			t.Fatalf("disabled machine after reboot: %q %q %v", unit, st, err)
		}
	}
}

// insideUnit generates the machine unit from the installed template, with
// this binary in its payload role as ExecStart (berth-nspawn needs
// berthd).
func insideUnit(t *testing.T) unitgen.Unit {
	tmpl, err := os.ReadFile(filepath.Join("/usr/local/lib/systemd/system", unitgen.Template))
	if err != nil {
		t.Fatal(err)
	}
	u, err := unitgen.Generate(tmpl, unitgen.Settings{
		Machine: "sys1", Limits: unitgen.Limits{MemoryMax: 256 << 20, TasksMax: 100}, Environment: []string{payloadEnv + "=1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	u.ExecStart = []string{binInside}
	return u
}

func insideLifecycle(ctx context.Context, t *testing.T, b *Backend, u unitgen.Unit) {
	states := watchMachine(ctx, t, b, "sys1")
	if err := b.Start(ctx, u); err != nil {
		t.Fatalf("start: %v\n%s", err, systemctl("status", u.Name))
	}
	if st, err := b.State(ctx, "sys1"); err != nil || st != "running" {
		t.Errorf("State = %q, %v; want running", st, err)
	}
	show := systemctl("show", "-p", "ControlGroup", "-p", "Slice", "-p", "Delegate", "-p", "MemoryMax", "-p", "TasksMax", u.Name)
	for _, want := range []string{"Slice=machine.slice", "ControlGroup=/machine.slice/" + u.Name, "Delegate=yes", "MemoryMax=268435456", "TasksMax=100"} {
		if !strings.Contains(show, want) {
			t.Errorf("systemctl show lacks %s:\n%s", want, show)
		}
	}
	if err := b.Start(ctx, u); !errors.Is(err, ErrRunning) {
		t.Errorf("second start = %v, want ErrRunning", err)
	}
	if err := b.Kill(ctx, "sys1", "main", unix.SIGCONT); err != nil {
		t.Errorf("kill with SIGCONT: %v", err)
	}
	if err := b.Stop(ctx, "sys1", false); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if st, _ := b.State(ctx, "sys1"); st != "" {
		t.Errorf("State after stop = %q", st)
	}
	// systemd sends a unit's state as of when it dispatches its signals:
	// a state that came and went in between is not seen.
	if got := states(); !inOrder(got, "opening", "running", "closing", "") {
		t.Errorf("States seen by Watch: %q, want running among opening, running, closing, \"\" in this order", got)
	}
	if err := b.Stop(ctx, "sys1", false); !errors.Is(err, ErrNotRunning) {
		t.Errorf("stop of a stopped machine = %v, want ErrNotRunning", err)
	}
	bad := u
	bad.Name, bad.Machine, bad.ExecStart = "berth-machine@sys2.service", "sys2", []string{"/bin/false"}
	if err := b.Start(ctx, bad); !errors.Is(err, ErrJob) {
		t.Errorf("start of a failing unit = %v, want ErrJob", err)
	}
	if err := b.Start(ctx, bad); !errors.Is(err, ErrJob) {
		t.Errorf("second start of a failing unit = %v, want ErrJob (not a name clash)", err)
	}
}

// watchMachine follows machine's States with b.Watch. The returned
// function waits until the machine ran and is gone, and returns the
// States seen, repeats dropped.
func watchMachine(ctx context.Context, t *testing.T, b *Backend, machine string) func() []string {
	t.Helper()
	ch := make(chan string, 64)
	err := b.Watch(ctx, func(m, st string) {
		if m == machine {
			ch <- st
		}
	})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	return func() []string {
		var seen []string
		for {
			select {
			case st := <-ch:
				if st == "" && len(seen) == 0 {
					continue // the new unit, loaded before its start job runs
				}
				seen = append(seen, st)
				if st == "" && slices.Contains(seen, "running") {
					return slices.Compact(seen)
				}
			case <-ctx.Done():
				t.Fatalf("States of %s: %q, want it running and then gone", machine, seen)
			}
		}
	}
}

// inOrder reports whether seen holds only States of order, in that
// order, without repeats.
func inOrder(seen []string, order ...string) bool {
	last := -1
	for _, st := range seen {
		i := slices.Index(order, st)
		if i <= last {
			return false
		}
		last = i
	}
	return true
}

// insideEnable enables machine sys3 and checks that systemd sees it; the
// drop-in makes the template's berth-nspawn (this binary) a payload.
func insideEnable(t *testing.T) {
	p := paths.Default()
	if err := os.MkdirAll(filepath.Join(p.Pool, "sys3"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := enable.Enable(p, "sys3", []byte("[Service]\nTasksMax=50\nEnvironment="+payloadEnv+"=1\n")); err != nil {
		t.Fatal(err)
	}
	systemctl("daemon-reload")
	for unit, want := range map[string]string{"berth-nspawn@sys3.service": "enabled", unitgen.Target: "enabled"} {
		if got := strings.TrimSpace(systemctl("is-enabled", unit)); got != want {
			t.Errorf("is-enabled %s = %q, want %q", unit, got, want)
		}
	}
	if show := systemctl("show", "-p", "TasksMax", "berth-nspawn@sys3.service"); !strings.Contains(show, "TasksMax=50") {
		t.Errorf("drop-in not applied: %s", show)
	}
	if deps := systemctl("list-dependencies", "--plain", unitgen.Target); !strings.Contains(deps, "berth-nspawn@sys3.service") {
		t.Errorf("target does not want the machine:\n%s", deps)
	}
}

func systemctl(args ...string) string {
	out, _ := exec.Command("systemctl", args...).CombinedOutput()
	return string(out)
}
