package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/enable"
	"github.com/berth-dev/berth/internal/imagebuild"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/supervisor"
	"github.com/berth-dev/berth/internal/testbed"
	"github.com/berth-dev/berth/internal/unitgen"
)

func TestMain(m *testing.M) {
	supervisor.Main()
	os.Exit(m.Run())
}

// testTemplate boots an image's init in a PID namespace of its own with
// unshare, standing in for berth-nspawn. unshare re-raises the signal its
// child died of; nspawn maps a guest's reboot (death by SIGHUP) to 133 and
// its power-off (SIGINT) to 0, so the template counts those the same.
const testTemplate = `[Unit]
Description=Test container %%i
[Service]
ExecStart=%s --pid --fork --mount-proc chroot %s/%%i /sbin/init
KillMode=mixed
RestartForceExitStatus=133 SIGHUP
SuccessExitStatus=133 SIGINT
Slice=%s
Delegate=yes
[Install]
WantedBy=berth-machines.target
`

type bed struct {
	m     *Manager
	p     paths.Paths
	sup   *supervisor.Supervisor
	slice string
}

// newBed returns a Manager on the embedded backend, under a private
// layout with the test template and target installed.
func newBed(t testing.TB) *bed {
	t.Helper()
	testbed.RequireRoot(t)
	unshare := testbed.RequireTool(t, "unshare")
	var r [4]byte
	_, _ = rand.Read(r[:])
	b := &bed{p: testbed.Paths(t), slice: "berthtest" + hex.EncodeToString(r[:]) + ".slice"}
	unitDir := filepath.Join(b.p.Root, "usr/local/lib/systemd/system")
	if err := os.MkdirAll(unitDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		unitgen.Template: fmt.Sprintf(testTemplate, unshare, b.p.Pool, b.slice),
		unitgen.Target:   "[Unit]\nDescription=t\n[Install]\nWantedBy=multi-user.target\n",
	} {
		if err := os.WriteFile(filepath.Join(unitDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sup, err := supervisor.New(b.p)
	if err != nil {
		t.Fatal(err)
	}
	b.sup, b.m = sup, New(b.p, Embedded{S: sup})
	t.Cleanup(func() {
		sts, _ := sup.List()
		for _, st := range sts {
			_ = sup.Stop(context.Background(), st.Unit, supervisor.StopOptions{Force: true})
		}
		removeSlice(b.p.Cgroup, b.slice)
	})
	return b
}

// removeSlice removes a test slice's directory from every hierarchy.
func removeSlice(cgroupRoot, slice string) {
	dirs, _ := filepath.Glob(filepath.Join(cgroupRoot, "*", slice))
	for _, d := range append(dirs, filepath.Join(cgroupRoot, slice)) {
		_ = unix.Rmdir(d)
	}
}

func (b *bed) image(t testing.TB, name string) {
	t.Helper()
	if err := imagebuild.Busybox(filepath.Join(b.p.Pool, name)); err != nil {
		testbed.Unavailable(t, err.Error())
	}
}

// waitGuest waits until the guest's init blocks or catches its power-off
// signal (busybox init: SIGUSR2): before that the kernel drops signals
// from outside its PID namespace. berth-nspawn reports READY=1 only then.
func (b *bed) waitGuest(t testing.TB, machine string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		leader, err := b.m.backend.Leader(context.Background(), machine)
		if err == nil && takes(leader, unix.SIGUSR2) {
			return leader
		}
		if time.Now().After(deadline) {
			t.Fatalf("guest %s never ready: %v\n%s", machine, err, b.log(machine))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// log returns the machine's log, for failure messages.
func (b *bed) log(machine string) string {
	out, _ := os.ReadFile(filepath.Join(b.p.Log, machine+".log"))
	return string(out)
}

func takes(pid int, sig unix.Signal) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		var mask uint64
		if (k == "SigCgt" || k == "SigBlk") && func() bool { _, err := fmt.Sscanf(strings.TrimSpace(v), "%x", &mask); return err == nil }() &&
			mask&(1<<(uint(sig)-1)) != 0 {
			return true
		}
	}
	return false
}

func (b *bed) state(t testing.TB, machine string) string {
	t.Helper()
	st, err := b.m.State(context.Background(), machine)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestIntegrationStartPowerOff(t *testing.T) {
	b := newBed(t)
	b.image(t, "bb")
	ctx := context.Background()
	if err := b.m.StartMachine(ctx, "bb"); err != nil {
		t.Fatal(err)
	}
	if st := b.state(t, "bb"); st != "running" {
		t.Fatalf("state after start = %q", st)
	}
	b.waitGuest(t, "bb")
	if err := b.m.StartMachine(ctx, "bb"); !errors.Is(err, ErrRunning) {
		t.Errorf("start of a running machine = %v, want ErrRunning", err)
	}
	start := time.Now()
	if err := b.m.PowerOff(ctx, "bb", false); err != nil {
		t.Fatalf("%v\n%s", err, b.log("bb"))
	}
	t.Logf("busybox guest down in %v", time.Since(start))
	if st := b.state(t, "bb"); st != "" {
		t.Errorf("state after power-off = %q\n%s", st, b.log("bb"))
	}
	if err := b.m.PowerOff(ctx, "bb", false); !errors.Is(err, ErrNotRunning) {
		t.Errorf("power-off of a stopped machine = %v, want ErrNotRunning", err)
	}
}

func TestIntegrationReboot(t *testing.T) {
	b := newBed(t)
	b.image(t, "rb")
	ctx := context.Background()
	if err := b.m.StartMachine(ctx, "rb"); err != nil {
		t.Fatal(err)
	}
	first := b.waitGuest(t, "rb")
	if err := b.m.Reboot(ctx, "rb"); err != nil {
		t.Fatal(err)
	}
	unit, _ := unitgen.UnitName("rb")
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := b.sup.State(unit)
		if err != nil {
			t.Fatal(err)
		}
		if st.Restarts == 1 && st.State == supervisor.Active {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("machine did not come back after reboot: %+v\n%s", st, b.log("rb"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if second := b.waitGuest(t, "rb"); second == first {
		t.Errorf("same leader %d after reboot", first)
	}
	if err := b.m.PowerOff(ctx, "rb", true); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationLimitsPersist(t *testing.T) {
	b := newBed(t)
	b.image(t, "lim")
	want := Settings{Limits: unitgen.Limits{TasksMax: 77, MemoryMax: 256 << 20}, PowerOffSignal: unix.SIGUSR2}
	if err := b.m.SetSettings("lim", want); err != nil {
		t.Fatal(err)
	}
	// A new Manager (a restarted berthd) reads them back.
	m2 := New(b.p, Embedded{S: b.sup})
	got, err := m2.Settings("lim")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Settings (-want +got):\n%s", diff)
	}
	if err := m2.StartMachine(context.Background(), "lim"); err != nil {
		t.Fatal(err)
	}
	leader := b.waitGuest(t, "lim")
	for file, want := range map[string]string{"pids": "77", "memory": fmt.Sprint(256 << 20)} {
		if got := cgroupValue(t, leader, file); got != want {
			t.Errorf("%s limit = %q, want %q", file, got, want)
		}
	}
}

// cgroupValue reads pid's pids or memory limit from the hierarchy that
// holds it: the v1 controller on a hybrid host, the unified one on v2.
func cgroupValue(t *testing.T, pid int, controller string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	v1 := map[string]string{"pids": "pids.max", "memory": "memory.limit_in_bytes"}[controller]
	v2 := map[string]string{"pids": "pids.max", "memory": "memory.max"}[controller]
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		var file string
		switch {
		case f[1] == controller:
			file = filepath.Join("/sys/fs/cgroup", controller, f[2], v1)
		case f[0] == "0" && pathExists("/sys/fs/cgroup/cgroup.controllers"):
			file = filepath.Join("/sys/fs/cgroup", f[2], v2)
		default:
			continue
		}
		v, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(v))
	}
	t.Fatalf("no %s cgroup for %d", controller, pid)
	return ""
}

func pathExists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestIntegrationEnableStartEnabled(t *testing.T) {
	b := newBed(t)
	b.image(t, "boot1")
	b.image(t, "boot2")
	ctx := context.Background()
	for _, m := range []string{"boot1", "boot2"} {
		if _, err := b.m.Enable(ctx, m, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.m.Enable(ctx, "missing", false); !errors.Is(err, images.ErrNotFound) {
		t.Errorf("enable of a missing image = %v, want images.ErrNotFound", err)
	}
	// berthd starting on a host without systemd starts enabled machines.
	if err := b.m.StartEnabled(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"boot1", "boot2"} {
		if st := b.state(t, m); st != "running" {
			t.Errorf("%s after StartEnabled: %q", m, st)
		}
	}
	if err := b.m.StartEnabled(ctx); err != nil {
		t.Errorf("second StartEnabled: %v", err)
	}
	b.waitGuest(t, "boot1")
	if _, err := b.m.Disable(ctx, "boot1", true); err != nil {
		t.Fatal(err)
	}
	if st := b.state(t, "boot1"); st != "" {
		t.Errorf("boot1 after Disable --now: %q", st)
	}
	if ms, _ := enable.Enabled(b.p); !cmp.Equal(ms, []string{"boot2"}) {
		t.Errorf("enabled after Disable = %v", ms)
	}
}

func TestIntegrationBadInput(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	tests := []struct {
		name, machine string
		want          error
	}{
		{"missing image", "nope", images.ErrNotFound},
		{"invalid name", "-bad", names.ErrInvalid},
		{"empty name", "", names.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := b.m.StartMachine(ctx, tt.machine); !errors.Is(err, tt.want) {
				t.Errorf("StartMachine(%q) = %v, want %v", tt.machine, err, tt.want)
			}
		})
	}
	if err := b.m.Terminate(ctx, "nope"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Terminate of a stopped machine = %v, want ErrNotRunning", err)
	}
	if err := b.m.SetSettings("x", Settings{Limits: unitgen.Limits{CPUWeight: 20000}}); !errors.Is(err, unitgen.ErrSettings) {
		t.Errorf("SetSettings with a bad weight = %v, want ErrSettings", err)
	}
}

func FuzzParseSettings(f *testing.F) {
	f.Add([]byte(`{"Limits":{"TasksMax":77},"PowerOffSignal":12}`))
	f.Add([]byte(`{"Environment":["A=1"],"TimeoutStop":2000000000}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSettings(b)
		if err != nil {
			return
		}
		if _, err := unitgen.DropIn(s.unitSettings("m", 0, unitgen.Host{})); err != nil {
			t.Fatalf("accepted settings fail to render: %v", err)
		}
	})
}
