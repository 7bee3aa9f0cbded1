package supervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/stopsignal"
	"github.com/berth-dev/berth/internal/testbed"
	"github.com/berth-dev/berth/internal/unitgen"
)

// helperEnv makes the test binary act as a separate supervisor process
// that starts the unit given in it (JSON) and then waits to be killed.
const helperEnv = "BERTH_SUPERVISOR_TEST_HELPER"

func TestMain(m *testing.M) {
	Main()
	if arg := os.Getenv(helperEnv); arg != "" {
		os.Exit(runHelper(arg))
	}
	os.Exit(m.Run())
}

type helperArgs struct {
	Paths paths.Paths
	Unit  unitgen.Unit
}

func runHelper(arg string) int {
	var h helperArgs
	if err := json.Unmarshal([]byte(arg), &h); err != nil {
		fmt.Println(err)
		return 1
	}
	s, err := New(h.Paths)
	if err == nil {
		err = s.Start(context.Background(), h.Unit)
	}
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("started")
	select {} // until SIGKILL
}

// bed is one test's supervisor, slice and paths.
type bed struct {
	s     *Supervisor
	p     paths.Paths
	slice string
}

func newBed(t *testing.T) *bed {
	t.Helper()
	testbed.RequireRoot(t)
	var r [4]byte
	_, _ = rand.Read(r[:])
	b := &bed{p: testbed.Paths(t), slice: "berthtest" + hex.EncodeToString(r[:]) + ".slice"}
	s, err := New(b.p)
	if err != nil {
		t.Fatal(err)
	}
	b.s = s
	t.Cleanup(func() { b.cleanup(t) })
	return b
}

// cleanup force-stops what the test left running, ends the spare
// monitor and removes the slice.
func (b *bed) cleanup(t *testing.T) {
	sts, _ := b.s.List()
	for _, st := range sts {
		_ = b.s.Stop(context.Background(), st.Unit, StopOptions{Force: true})
	}
	b.s.Close()
	hs, err := layout(b.p.Cgroup, pathExists)
	if err != nil {
		return
	}
	for _, h := range hs {
		if err := rmdirRetry(filepath.Join(h.Root, b.slice)); err != nil {
			t.Errorf("slice left behind: %v", err)
		}
	}
}

// unit returns a unit of machine name that runs argv, with systemd's
// defaults and the template's KillMode and restart status.
func (b *bed) unit(name string, argv ...string) unitgen.Unit {
	return unitgen.Unit{
		Name: "berth-machine@" + name + ".service", Machine: name, Type: "simple", ExecStart: argv,
		KillMode: "mixed", KillSignal: unix.SIGTERM, TimeoutStop: 90 * time.Second, TimeoutStart: 90 * time.Second,
		RestartForceExitStatus: unitgen.ExitStatus{Codes: []int{133}}, SuccessExitStatus: unitgen.ExitStatus{Codes: []int{133}},
		Slice: b.slice, Delegate: true,
	}
}

// busybox returns a unit booting a busybox image's init in a PID
// namespace of its own: a guest without berth-nspawn. unshare re-raises
// the signal its child died of; a guest that powers off dies of SIGINT,
// which nspawn would report as a clean exit, so the unit counts it as
// success.
func (b *bed) busybox(t *testing.T, name string) (unitgen.Unit, string) {
	t.Helper()
	img := testbed.BusyboxImage(t)
	unshare := testbed.RequireTool(t, "unshare")
	u := b.unit(name, unshare, "--pid", "--fork", "--mount-proc", "chroot", img, "/sbin/init")
	u.SuccessExitStatus.Signals = []unix.Signal{unix.SIGINT}
	return u, img
}

func (b *bed) state(t *testing.T, unit string) Status {
	t.Helper()
	st, err := b.s.State(unit)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitState polls until the unit satisfies ok; the deadline only keeps a
// broken test from hanging.
func (b *bed) waitState(t *testing.T, unit string, ok func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := b.state(t, unit)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("unit %s stuck in %+v", unit, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLeader waits until the guest's init runs and has set up its signal
// handlers: with Type=simple the unit is active as soon as unshare runs,
// before it forks chroot and chroot execs init. (berth-nspawn, Type=notify,
// sends READY=1 only once the init runs.) Until init handles a signal, the
// kernel drops it: a PID namespace's init gets from outside only signals
// it has a handler for.
func (b *bed) waitLeader(t *testing.T, unit string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		leader, err := b.s.Leader(unit)
		if err == nil && handles(leader, unix.SIGUSR2) {
			return leader
		}
		if time.Now().After(deadline) {
			t.Fatalf("no guest init that takes SIGUSR2: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// handles reports whether process pid catches sig (SigCgt) or blocks it
// to wait for it (SigBlk, as busybox init does): either way the kernel
// queues it instead of dropping it.
func handles(pid int, sig unix.Signal) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		var mask uint64
		if k != "SigCgt" && k != "SigBlk" {
			continue
		}
		if _, err := fmt.Sscanf(strings.TrimSpace(v), "%x", &mask); err == nil && mask&(1<<(uint(sig)-1)) != 0 {
			return true
		}
	}
	return false
}

func TestIntegrationBusyboxPowerOff(t *testing.T) {
	b := newBed(t)
	u, img := b.busybox(t, "bb")
	ctx := context.Background()
	if err := b.s.Start(ctx, u); err != nil {
		t.Fatal(err)
	}
	st := b.state(t, u.Name)
	if st.State != Active || st.State.MachineState() != "running" {
		t.Fatalf("after Start: %+v", st)
	}
	leader := b.waitLeader(t, u.Name)
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", leader)); strings.TrimSpace(string(comm)) != "init" {
		t.Errorf("leader %d is %q, want init", leader, comm)
	}
	sig, err := stopsignal.Detect(img)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// The timeout is far above busybox's ~2 s: only escalation would take it.
	if err := b.s.PowerOff(ctx, u.Name, sig.PowerOff, 60*time.Second, false); err != nil {
		t.Fatal(err)
	}
	t.Logf("busybox powered off with %s in %v", unitgen.SignalName(sig.PowerOff), time.Since(start))
	st = b.state(t, u.Name)
	if st.State != Inactive || st.Result != "success" {
		t.Errorf("after PowerOff: state %s result %s, want inactive success", st.State, st.Result)
	}
	if _, err := os.Stat(st.Cgroup); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup %s left behind: %v", st.Cgroup, err)
	}
	log, _ := os.ReadFile(st.Log)
	if !strings.Contains(string(log), "Requesting system poweroff") {
		t.Errorf("log lacks busybox's poweroff message:\n%s", log)
	}
}

func TestIntegrationRebootRestarts(t *testing.T) {
	b := newBed(t)
	flag := filepath.Join(t.TempDir(), "booted")
	// First boot "reboots" (exit 133, as nspawn does when the guest
	// reboots); the second stays up.
	script := fmt.Sprintf("if [ -e %[1]s ]; then exec sleep 1000; fi; touch %[1]s; exit 133", flag)
	u := b.unit("rb", "/bin/sh", "-c", script)
	if err := b.s.Start(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	st := b.waitState(t, u.Name, func(s Status) bool { return s.Restarts == 1 && s.State == Active })
	if st.MainPID == 0 {
		t.Errorf("no main process after the restart: %+v", st)
	}
	if err := b.s.Stop(context.Background(), u.Name, StopOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationStopEscalation(t *testing.T) {
	b := newBed(t)
	// A guest that ignores its stop signal, with a child that does too.
	u := b.unit("stubborn", "/bin/sh", "-c", `trap "" TERM USR2; sh -c 'trap "" TERM; while :; do sleep 1; done' & while :; do sleep 1; done`)
	u.TimeoutStop = time.Second
	if err := b.s.Start(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	st := b.waitState(t, u.Name, func(s Status) bool { return s.State == Active })
	g := &group{Dirs: []string{st.Cgroup}}
	// Stop only once both shells have set their traps: the main shell
	// forked the inner one after its trap, the inner one runs sleep after
	// its own.
	deadline := time.Now().Add(30 * time.Second)
	for !handlesOrIgnores(t, g) {
		if time.Now().After(deadline) {
			t.Fatal("shells never set their traps")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := b.s.Stop(context.Background(), u.Name, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	st = b.state(t, u.Name)
	if st.State != Inactive {
		t.Errorf("after Stop: %+v", st)
	}
	if pids, _ := g.procs(); len(pids) != 0 {
		t.Errorf("processes left: %v", pids)
	}
	log, _ := os.ReadFile(st.Log)
	if !strings.Contains(string(log), "killing its cgroup") {
		t.Errorf("log shows no escalation:\n%s", log)
	}
}

func TestIntegrationAdoptAfterSupervisorKill(t *testing.T) {
	b := newBed(t)
	u, _ := b.busybox(t, "adopt")
	arg, err := json.Marshal(helperArgs{Paths: b.p, Unit: u})
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := exec.Command(self)
	helper.Env = append(os.Environ(), helperEnv+"="+string(arg))
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	n, _ := out.Read(buf)
	if got := strings.TrimSpace(string(buf[:n])); got != "started" {
		t.Fatalf("helper supervisor: %q", got)
	}
	before := b.state(t, u.Name)
	if err := helper.Process.Kill(); err != nil { // kill -9 of the supervisor
		t.Fatal(err)
	}
	_ = helper.Wait()

	b.waitLeader(t, u.Name)
	s2, err := New(b.p) // a new supervisor adopts the machine
	if err != nil {
		t.Fatal(err)
	}
	after, err := s2.State(u.Name)
	if err != nil {
		t.Fatal(err)
	}
	if after.State != Active || after.MainPID != before.MainPID || !alive(after.MainPID, mustStart(t, after.MainPID)) {
		t.Fatalf("machine did not survive its supervisor: before %+v after %+v", before, after)
	}
	if err := s2.PowerOff(context.Background(), u.Name, unix.SIGUSR2, 60*time.Second, false); err != nil {
		t.Fatal(err)
	}
	if st, _ := s2.State(u.Name); st.State != Inactive {
		t.Errorf("adopted machine after PowerOff: %+v", st)
	}
}

// handlesOrIgnores reports whether the group runs two shells that both
// ignore SIGTERM (SigIgn) and at least one sleep of the inner loop.
func handlesOrIgnores(t *testing.T, g *group) bool {
	t.Helper()
	pids, _ := g.procs()
	shells := 0
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
				var mask uint64
				if _, err := fmt.Sscanf(strings.TrimSpace(v), "%x", &mask); err == nil && mask&(1<<(unix.SIGTERM-1)) != 0 {
					shells++
				}
			}
		}
	}
	return shells >= 2
}

func mustStart(t *testing.T, pid int) uint64 {
	t.Helper()
	_, start, err := procStat(pid)
	if err != nil {
		t.Fatalf("main process %d: %v", pid, err)
	}
	return start
}

func TestIntegrationParallelStarts(t *testing.T) {
	b := newBed(t)
	const n = 50
	ctx := context.Background()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.s.Start(ctx, b.unit(fmt.Sprintf("par%d", i), "sleep", "1000"))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("start par%d: %v", i, err)
		}
	}
	sts, err := b.s.List()
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, st := range sts {
		if st.State == Active {
			active++
		}
	}
	if active != n {
		t.Errorf("%d of %d machines active", active, n)
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.s.Stop(ctx, fmt.Sprintf("berth-machine@par%d.service", i), StopOptions{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("stop par%d: %v", i, err)
		}
	}
}

func TestIntegrationConcurrentStartsOfOneMachine(t *testing.T) {
	b := newBed(t)
	u := b.unit("once", "sleep", "1000")
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.s.Start(context.Background(), u)
		}()
	}
	wg.Wait()
	var started, running int
	for _, err := range errs {
		switch {
		case err == nil:
			started++
		case errors.Is(err, ErrRunning):
			running++
		default:
			t.Errorf("start: %v", err)
		}
	}
	if started != 1 || running != n-1 {
		t.Errorf("%d starts succeeded and %d saw ErrRunning, want 1 and %d", started, running, n-1)
	}
	st := b.state(t, u.Name)
	pids, err := (&group{Dirs: []string{st.Cgroup}}).procs()
	if err != nil || len(pids) != 1 || st.Restarts != 0 {
		t.Errorf("one machine should run one process: pids %v (%v), %+v", pids, err, st)
	}
	// The payload sits in the unit's group in every hierarchy the
	// supervisor manages (unified and name=systemd on a hybrid host).
	if len(pids) == 1 {
		b.checkCgroups(t, pids[0], u.Name)
	}
	// The monitor stepped into the unit's v1 groups only for the clone.
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.MonitorPID)); err != nil || strings.Contains(string(raw), u.Name) {
		t.Errorf("monitor left in the unit's cgroups: %s (%v)", raw, err)
	}
}

// checkCgroups checks that pid's cgroup is the unit's in the unified and
// named hierarchies.
func (b *bed) checkCgroups(t *testing.T, pid int, unit string) {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	want := "/" + b.slice + "/" + unit
	hs, err := layout(b.p.Cgroup, pathExists)
	if err != nil {
		t.Fatal(err)
	}
	named := false // does the supervisor manage name=systemd here?
	for _, h := range hs {
		named = named || !h.V2 && h.Controller == ""
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if f[1] == "" || named && f[1] == "name=systemd" {
			seen++
			if f[2] != want {
				t.Errorf("cgroup line %q, want path %s", line, want)
			}
		}
	}
	if seen == 0 {
		t.Errorf("no unified or name=systemd cgroup in %q", raw)
	}
}

func TestIntegrationBadInput(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	missing := b.unit("missing", "/nonexistent/berth-nspawn", "--machine=missing")
	if err := b.s.Start(ctx, missing); !errors.Is(err, ErrStartFailed) {
		t.Errorf("start of a missing command = %v, want ErrStartFailed", err)
	}
	if st := b.state(t, missing.Name); st.State != Failed {
		t.Errorf("after a failed start: %+v", st)
	}
	// The start's error ends with the payload's last line (its own error
	// message), not with the monitor's.
	loud := b.unit("loud", "/bin/sh", "-c", "echo early; echo 'spawner: create veth: file exists' >&2; echo; exit 1")
	loud.Type = "notify"
	want := "main process exited with status 1: spawner: create veth: file exists"
	if err := b.s.Start(ctx, loud); !errors.Is(err, ErrStartFailed) || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("start of a failing command = %v, want ErrStartFailed ending in %q", err, want)
	}
	u := b.unit("twice", "sleep", "1000")
	if err := b.s.Start(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := b.s.Start(ctx, u); !errors.Is(err, ErrRunning) {
		t.Errorf("start of a running unit = %v, want ErrRunning", err)
	}
	if err := b.s.Stop(ctx, "berth-machine@idle.service", StopOptions{}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("stop of an idle unit = %v, want ErrNotRunning", err)
	}
	for _, name := range []string{"", "../x", "a/b"} {
		bad := b.unit("x", "sleep", "1")
		bad.Name = name
		if err := b.s.Start(ctx, bad); !errors.Is(err, ErrBadUnit) {
			t.Errorf("start of unit %q = %v, want ErrBadUnit", name, err)
		}
	}
	if err := b.s.Start(ctx, unitgen.Unit{Name: "berth-machine@y.service"}); !errors.Is(err, ErrBadUnit) {
		t.Errorf("start without ExecStart = %v, want ErrBadUnit", err)
	}
}

func TestLayout(t *testing.T) {
	tests := []struct {
		name   string
		exists []string
		want   []hierarchy
	}{
		{"pure v2", []string{"/cg/cgroup.controllers"}, []hierarchy{{Root: "/cg", V2: true}}},
		{
			"hybrid", []string{"/cg/unified/cgroup.controllers", "/cg/systemd/cgroup.procs", "/cg/memory/cgroup.procs", "/cg/pids/cgroup.procs"},
			[]hierarchy{{Root: "/cg/unified", V2: true}, {Root: "/cg/systemd"}, {Root: "/cg/memory", Controller: "memory"}, {Root: "/cg/pids", Controller: "pids"}},
		},
		{"legacy", []string{"/cg/systemd/cgroup.procs"}, []hierarchy{{Root: "/cg/systemd"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := layout("/cg", func(p string) bool {
				for _, e := range tt.exists {
					if e == p {
						return true
					}
				}
				return false
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("layout (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := layout("/cg", func(string) bool { return false }); !errors.Is(err, ErrNoCgroups) {
		t.Errorf("layout without cgroups = %v", err)
	}
}

func TestSlicePath(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "-.slice": "", "machine.slice": "machine.slice", "a-b-c.slice": "a.slice/a-b.slice/a-b-c.slice",
	} {
		if got, err := slicePath(in); err != nil || got != want {
			t.Errorf("slicePath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"machine", "-a.slice", "a-.slice", "a--b.slice", "a/b.slice", ".slice"} {
		if _, err := slicePath(bad); !errors.Is(err, ErrBadUnit) {
			t.Errorf("slicePath(%q) = %v, want ErrBadUnit", bad, err)
		}
	}
}

func TestLimitFiles(t *testing.T) {
	l := unitgen.Limits{MemoryMax: 1 << 30, TasksMax: unitgen.Infinity, CPUQuota: 150, CPUWeight: 200, IOWeight: 500}
	tests := []struct {
		h    hierarchy
		want []fileWrite
	}{
		{hierarchy{V2: true}, []fileWrite{
			{"memory.max", "1073741824"}, {"pids.max", "max"}, {"cpu.max", "150000 100000"},
			{"cpu.weight", "200"}, {"io.weight", "default 500"},
		}},
		{hierarchy{Controller: "memory"}, []fileWrite{{"memory.limit_in_bytes", "1073741824"}}},
		{hierarchy{Controller: "pids"}, []fileWrite{{"pids.max", "max"}}},
		{hierarchy{Controller: "cpu"}, []fileWrite{{"cpu.cfs_period_us", "100000"}, {"cpu.cfs_quota_us", "150000"}, {"cpu.shares", "2048"}}},
		{hierarchy{Controller: "blkio"}, []fileWrite{{"blkio.weight", "50"}}},
		{hierarchy{}, nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, limitFiles(tt.h, l)); diff != "" {
			t.Errorf("limitFiles(%+v) (-want +got):\n%s", tt.h, diff)
		}
	}
	if diff := cmp.Diff([]string{"memory", "pids", "cpu", "io"}, v2Controllers(l)); diff != "" {
		t.Errorf("v2Controllers (-want +got):\n%s", diff)
	}
	avail := map[string]bool{"pids": true}
	if diff := cmp.Diff([]string{"pids"}, filterControllers(v2Controllers(l), avail)); diff != "" {
		t.Errorf("filterControllers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]fileWrite{{"pids.max", "max"}}, filterWrites(v2Limits(l), avail)); diff != "" {
		t.Errorf("filterWrites (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/cg", "/cg/a.slice"}, parentsOf("/cg", "/cg/a.slice/u.service")); diff != "" {
		t.Errorf("parentsOf (-want +got):\n%s", diff)
	}
}

func TestParseNotify(t *testing.T) {
	got := parseNotify("READY=1\nSTATUS=Container running.\nX_NSPAWN_LEADER_PID=42")
	want := map[string]string{"READY": "1", "STATUS": "Container running.", "X_NSPAWN_LEADER_PID": "42"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseNotify (-want +got):\n%s", diff)
	}
}

func TestIntegrationNotify(t *testing.T) {
	b := newBed(t)
	notify := testbed.RequireTool(t, "systemd-notify")
	ctx := context.Background()
	u := b.unit("ready", "/bin/sh", "-c", "sleep 0.2; "+notify+" --ready; exec sleep 1000")
	u.Type = "notify"
	if err := b.s.Start(ctx, u); err != nil {
		t.Fatal(err)
	}
	if st := b.state(t, u.Name); st.State != Active {
		t.Errorf("notify unit after Start: %+v", st)
	}
	// After a reboot (exit 133) the new main process must notify again:
	// a READY=1 of the first run does not count for the second.
	flag := filepath.Join(t.TempDir(), "booted")
	rb := b.unit("rbnotify", "/bin/sh", "-c", fmt.Sprintf(
		"if [ -e %[1]s ]; then exec sleep 1000; fi; touch %[1]s; %[2]s --ready; sleep 0.2; exit 133", flag, notify))
	rb.Type, rb.TimeoutStart = "notify", 2*time.Second
	if err := b.s.Start(ctx, rb); err != nil {
		t.Fatal(err)
	}
	if st := b.waitState(t, rb.Name, func(s Status) bool { return s.State == Failed || s.State == Inactive }); st.Result != "timeout" {
		t.Errorf("second run without READY=1: %+v, want failed timeout", st)
	}
	silent := b.unit("silent", "sleep", "1000")
	silent.Type, silent.TimeoutStart = "notify", 500*time.Millisecond
	if err := b.s.Start(ctx, silent); !errors.Is(err, ErrStartFailed) {
		t.Errorf("start of a unit that never notifies = %v, want ErrStartFailed", err)
	}
	if st := b.state(t, silent.Name); st.State != Failed || st.Result != "timeout" {
		log, _ := os.ReadFile(st.Log)
		t.Errorf("after the start timeout: state %s result %s, want failed timeout\n%s", st.State, st.Result, log)
	}
}

func FuzzReadStatus(f *testing.F) {
	f.Add([]byte(`{"Unit":"berth-machine@a.service","State":"active","MainPID":12,"MonitorPID":10,"MonitorStart":99}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"State":7}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, statusFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := readStatus(dir)
		if err != nil {
			return
		}
		// Whatever the file says, liveness checks must not panic or
		// mistake a PID that is not a monitor for a running unit.
		_ = st.State.MachineState()
		if alive(st.MonitorPID, st.MonitorStart) && st.MonitorPID != os.Getpid() {
			_, start, _ := procStat(st.MonitorPID)
			if start != st.MonitorStart {
				t.Fatalf("alive(%d, %d) with start %d", st.MonitorPID, st.MonitorStart, start)
			}
		}
	})
}

func TestIntegrationMonitorLost(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	u := b.unit("orphan", "sleep", "1000")
	if err := b.s.Start(ctx, u); err != nil {
		t.Fatal(err)
	}
	st := b.state(t, u.Name)
	if err := unix.Kill(st.MonitorPID, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(st.MonitorPID, st.MonitorStart, 30*time.Second)
	lost := b.state(t, u.Name)
	if lost.State != Active || lost.Result != "monitor-lost" {
		t.Errorf("after the monitor's death: state %s result %s, want active monitor-lost", lost.State, lost.Result)
	}
	if err := b.s.Start(ctx, u); !errors.Is(err, ErrRunning) {
		t.Errorf("start of an orphaned unit = %v, want ErrRunning", err)
	}
	if err := b.s.Stop(ctx, u.Name, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if after := b.state(t, u.Name); after.State != Failed || after.Result != "monitor-lost" {
		t.Errorf("after Stop: %+v", after)
	}
	for _, d := range st.CgroupDirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s left behind: %v", d, err)
		}
	}
	if err := b.s.Start(ctx, u); err != nil {
		t.Errorf("start after the orphan was stopped: %v", err)
	}
}

func TestIntegrationRestartLimit(t *testing.T) {
	b := newBed(t)
	u := b.unit("loop", "/bin/sh", "-c", "exit 133") // a guest that reboots for ever
	if err := b.s.Start(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	st := b.waitState(t, u.Name, func(s Status) bool { return s.State == Failed || s.State == Inactive })
	if st.State != Failed || st.Result != "start-limit-hit" || st.Restarts != startLimitBurst-1 {
		log, _ := os.ReadFile(st.Log)
		t.Errorf("after endless reboots: state %s result %s restarts %d, want failed start-limit-hit %d\n%s",
			st.State, st.Result, st.Restarts, startLimitBurst-1, log)
	}
	if st.ExitCode != 133 {
		t.Errorf("exit code %d, want 133", st.ExitCode)
	}
}

func TestCgroupOf(t *testing.T) {
	proc := "9:name=systemd:/a\n4:memory:/m/x\n1:cpu,cpuacct:/c\n0::/u\n"
	for _, tt := range []struct {
		h    hierarchy
		want string
		ok   bool
	}{
		{hierarchy{Root: "/cg/systemd"}, "/a", true},
		{hierarchy{Root: "/cg/memory", Controller: "memory"}, "/m/x", true},
		{hierarchy{Root: "/cg/cpu", Controller: "cpu"}, "/c", true},
		{hierarchy{Root: "/cg/pids", Controller: "pids"}, "", false},
	} {
		if got, ok := cgroupOf(proc, tt.h); got != tt.want || ok != tt.ok {
			t.Errorf("cgroupOf(%+v) = %q, %v; want %q, %v", tt.h, got, ok, tt.want, tt.ok)
		}
	}
}

// TestIntegrationExecEntryPoint runs the entry point hosts without a
// unified hierarchy (legacy v1) start payloads through: it joins the
// given groups, then execs the command; a command that cannot run is
// reported through the exec-check pipe.
func TestIntegrationExecEntryPoint(t *testing.T) {
	b := newBed(t)
	hs, err := layout(b.p.Cgroup, pathExists)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(hs[len(hs)-1].Root, b.slice)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd := exec.Command(self, execCmd, "--cgroup="+dir, "--", "cat", "/proc/self/cgroup")
	cmd.Env = []string{"PATH=" + defaultPath}
	cmd.Stdout = &out
	if err := startChecked(cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "/"+b.slice+"\n") {
		t.Errorf("payload not in %s:\n%s", dir, out.String())
	}
	bad := exec.Command(self, execCmd, "--cgroup="+dir, "--", "/nonexistent")
	if err := startChecked(bad); err == nil || !strings.Contains(err.Error(), "nonexistent") {
		t.Errorf("exec of a missing command = %v, want an error naming it", err)
	}
}
