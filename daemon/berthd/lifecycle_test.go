package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/imagebuild"
	"github.com/berth-dev/berth/internal/machine1"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

const (
	machine1Name = "org.freedesktop.machine1"
	berthIface   = "dev.berth.Manager1."
)

// lifecycleBed is a berthd with the units installed and a busybox image.
type lifecycleBed struct {
	p       paths.Paths
	d       *testbed.Berthd
	mgr     dbus.BusObject
	bus     *testbed.Bus
	machine string
}

func newLifecycleBed(t testing.TB) *lifecycleBed {
	t.Helper()
	testbed.RequireRoot(t)
	bus := testbed.StartBus(t)
	b := &lifecycleBed{p: testbed.Paths(t), bus: bus, machine: "lc-" + randomHex()}
	testbed.InstallUnits(t, b.p, bus.Address)
	if err := imagebuild.Busybox(filepath.Join(b.p.Pool, b.machine)); err != nil {
		testbed.Unavailable(t, err.Error())
	}
	b.d = testbed.StartBerthd(t, bus, b.p)
	b.mgr = bus.Conn(t).Object(machine1Name, "/org/freedesktop/machine1")
	return b
}

func randomHex() string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// errName returns the D-Bus error name of err, or "" for nil.
func errName(err error) string {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// registered reports whether berthd lists the machine.
func (b *lifecycleBed) registered(name string) bool {
	var p dbus.ObjectPath
	return b.mgr.Call(machine1Name+".Manager.GetMachine", 0, name).Store(&p) == nil
}

// waitRegistered waits until the machine is (want) or is not registered.
func (b *lifecycleBed) waitRegistered(t *testing.T, name string, want bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for b.registered(name) != want {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(b.p.Log, name+".log"))
			t.Fatalf("machine %s registered=%v never came:\nberthd: %s\nmachine: %s", name, want, b.d.Log(), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIntegrationStartPowerOffOverBus starts a busybox machine through
// dev.berth.Manager1 with twenty concurrent StartMachine calls (one
// starts it, the others get MachineExists), sees it registered, and
// powers it off.
func TestIntegrationStartPowerOffOverBus(t *testing.T) {
	b := newLifecycleBed(t)
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() { errs <- b.mgr.Call(berthIface+"StartMachine", 0, b.machine).Err }()
	}
	got := map[string]int{}
	for range n {
		err := <-errs
		if name := errName(err); name != "org.freedesktop.machine1.MachineExists" && name != "" {
			log, _ := os.ReadFile(filepath.Join(b.p.Log, b.machine+".log"))
			t.Logf("start: %v\n%s", err, log)
		}
		got[errName(err)]++
	}
	want := map[string]int{"": 1, "org.freedesktop.machine1.MachineExists": n - 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("outcomes of %d concurrent starts (-want +got):\n%s\n%s", n, diff, b.d.Log())
	}
	b.waitRegistered(t, b.machine, true)
	if err := b.mgr.Call(berthIface+"PowerOffMachine", 0, b.machine, false).Err; err != nil {
		t.Fatalf("PowerOffMachine: %v", err)
	}
	b.waitRegistered(t, b.machine, false)
	err := b.mgr.Call(berthIface+"PowerOffMachine", 0, b.machine, false).Err
	if diff := cmp.Diff("org.freedesktop.machine1.NoSuchMachine", errName(err)); diff != "" {
		t.Errorf("power off of a stopped machine (-want +got):\n%s", diff)
	}
}

// TestIntegrationLifecycleBadInput checks the error names of bad calls.
func TestIntegrationLifecycleBadInput(t *testing.T) {
	b := newLifecycleBed(t)
	tests := []struct {
		method string
		args   []any
		want   string
	}{
		{"StartMachine", []any{"missing-" + randomHex()}, "org.freedesktop.machine1.NoSuchImage"},
		{"StartMachine", []any{"bad/name"}, "org.freedesktop.DBus.Error.InvalidArgs"},
		{"StartMachine", []any{""}, "org.freedesktop.DBus.Error.InvalidArgs"},
		{"StartMachine", []any{uint32(1)}, "org.freedesktop.DBus.Error.InvalidArgs"},
		{"PowerOffMachine", []any{"bad/name", false}, "org.freedesktop.DBus.Error.InvalidArgs"},
		{"RebootMachine", []any{b.machine}, "org.freedesktop.machine1.NoSuchMachine"},
		{"EnableMachine", []any{"missing-" + randomHex(), false}, "org.freedesktop.machine1.NoSuchImage"},
		{"SetMachineSettings", []any{b.machine, map[string]dbus.Variant{"Nope": dbus.MakeVariant(uint64(1))}}, "org.freedesktop.DBus.Error.InvalidArgs"},
		{"SetMachineSettings", []any{b.machine, map[string]dbus.Variant{"MemoryMax": dbus.MakeVariant("1G")}}, "org.freedesktop.DBus.Error.InvalidArgs"},
		{"SetMachineSettings", []any{b.machine, map[string]dbus.Variant{"CPUWeight": dbus.MakeVariant(uint64(1 << 40))}}, "org.freedesktop.DBus.Error.InvalidArgs"},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			err := b.mgr.Call(berthIface+tt.method, 0, tt.args...).Err
			if diff := cmp.Diff(tt.want, errName(err)); diff != "" {
				t.Errorf("%s%v (-want +got):\n%s", tt.method, tt.args, diff)
			}
		})
	}
}

// TestIntegrationEnableAndSettingsOverBus enables a machine (the link
// appears under the private root's unit directory), disables it, and
// saves and reads back its settings.
func TestIntegrationEnableAndSettingsOverBus(t *testing.T) {
	b := newLifecycleBed(t)
	set := map[string]dbus.Variant{"MemoryMax": dbus.MakeVariant(uint64(256 << 20)), "TasksMax": dbus.MakeVariant(uint64(512))}
	if err := b.mgr.Call(berthIface+"SetMachineSettings", 0, b.machine, set).Err; err != nil {
		t.Fatalf("SetMachineSettings: %v", err)
	}
	var got map[string]dbus.Variant
	if err := b.mgr.Call(berthIface+"GetMachineSettings", 0, b.machine).Store(&got); err != nil {
		t.Fatalf("GetMachineSettings: %v", err)
	}
	for k, v := range set {
		if got[k].Value() != v.Value() {
			t.Errorf("setting %s = %v, want %v", k, got[k], v)
		}
	}
	link := filepath.Join(b.p.UnitDir, "berth-machines.target.wants", "berth-nspawn@"+b.machine+".service")
	var changes []struct{ Type, Path, Target string }
	if err := b.mgr.Call(berthIface+"EnableMachine", 0, b.machine, false).Store(&changes); err != nil {
		t.Fatalf("EnableMachine: %v", err)
	}
	if _, err := os.Lstat(link); err != nil || len(changes) == 0 {
		t.Fatalf("after EnableMachine (changes %+v): %v", changes, err)
	}
	if err := b.mgr.Call(berthIface+"DisableMachine", 0, b.machine, false).Store(&changes); err != nil {
		t.Fatalf("DisableMachine: %v", err)
	}
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("link still there after DisableMachine: %v", err)
	}
}

// TestIntegrationLifecycleNeedsRoot calls every lifecycle method as an
// unprivileged user with the real busctl: the bus policy lets the calls
// through, and berthd refuses each with AccessDenied. A start of a
// missing image is AccessDenied too: a start is prepared while the
// caller's authorization is asked for, and the preparation's error must
// not reach an unauthorized caller.
func TestIntegrationLifecycleNeedsRoot(t *testing.T) {
	b := newLifecycleBed(t)
	busctl := testbed.RequireTool(t, "busctl")
	setpriv := testbed.RequireTool(t, "setpriv")
	tests := []struct {
		method string
		args   []string
	}{
		{"StartMachine", []string{"s", b.machine}},
		{"StartMachine", []string{"s", "missing-" + randomHex()}},
		{"PowerOffMachine", []string{"sb", b.machine, "true"}},
		{"RebootMachine", []string{"s", b.machine}},
		{"EnableMachine", []string{"sb", b.machine, "false"}},
		{"DisableMachine", []string{"sb", b.machine, "false"}},
		{"GetMachineSettings", []string{"s", b.machine}},
		{"SetMachineSettings", []string{"sa{sv}", b.machine, "1", "TasksMax", "t", "10"}},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			argv := append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", busctl, "--system", "call",
				machine1Name, "/org/freedesktop/machine1", "dev.berth.Manager1", tt.method}, tt.args...)
			cmd := exec.Command(setpriv, argv...)
			cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + b.bus.Address}
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "ccess denied") {
				t.Errorf("unprivileged %s: %v: %s", tt.method, err, out)
			}
		})
	}
	if b.registered(b.machine) {
		t.Error("an unprivileged call started the machine")
	}
	if _, err := os.Stat(filepath.Join(b.p.UnitDir, "berth-machines.target.wants")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an unprivileged call enabled the machine: %v", err)
	}
}

// TestIntegrationStartOfRegisteredMachine: a machine registered without
// berthd's unit (here a plain process registered by hand) counts as
// running, so StartMachine of its name is MachineExists.
func TestIntegrationStartOfRegisteredMachine(t *testing.T) {
	b := newLifecycleBed(t)
	sleep := exec.Command("sleep", "1000")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	var p dbus.ObjectPath
	err := b.mgr.Call(machine1Name+".Manager.RegisterMachine", 0, b.machine, []byte{}, "test", "container",
		uint32(sleep.Process.Pid), "/").Store(&p)
	if err != nil {
		t.Fatalf("RegisterMachine: %v", err)
	}
	err = b.mgr.Call(berthIface+"StartMachine", 0, b.machine).Err
	if diff := cmp.Diff("org.freedesktop.machine1.MachineExists", errName(err)); diff != "" {
		t.Errorf("start of a registered machine (-want +got):\n%s", diff)
	}
}

// TestIntegrationMachineStateFollowsUnit watches dev.berth.Machine1's
// State through PropertiesChanged while a machine starts and powers off:
// it is running once StartMachine returns (its unit active and the
// machine registered), it only moves forward (opening, running,
// closing), and PowerOff makes it closing before the machine goes away.
func TestIntegrationMachineStateFollowsUnit(t *testing.T) {
	b := newLifecycleBed(t)
	conn := b.bus.Conn(t)
	path := machine1.MachinePath(b.machine)
	if err := conn.AddMatchSignal(dbus.WithMatchObjectPath(path), dbus.WithMatchMember("PropertiesChanged")); err != nil {
		t.Fatal(err)
	}
	if err := conn.AddMatchSignal(dbus.WithMatchObjectPath("/org/freedesktop/machine1"), dbus.WithMatchMember("MachineRemoved")); err != nil {
		t.Fatal(err)
	}
	sigs := make(chan *dbus.Signal, 64)
	conn.Signal(sigs)
	if err := b.mgr.Call(berthIface+"StartMachine", 0, b.machine).Err; err != nil {
		t.Fatalf("StartMachine: %v", err)
	}
	b.waitRegistered(t, b.machine, true)
	var state string
	if err := conn.Object(machine1Name, path).StoreProperty("dev.berth.Machine1.State", &state); err != nil || state != "running" {
		t.Errorf("State after StartMachine = %q, %v; want running", state, err)
	}
	if err := b.mgr.Call(berthIface+"PowerOffMachine", 0, b.machine, false).Err; err != nil {
		t.Fatalf("PowerOffMachine: %v", err)
	}
	seen := statesUntilRemoved(t, sigs, b.machine)
	t.Logf("States seen after the start: %v", seen)
	rank := map[string]int{"opening": 0, "running": 1, "closing": 2}
	for i := 1; i < len(seen); i++ {
		if rank[seen[i]] < rank[seen[i-1]] {
			t.Errorf("State went back: %v", seen)
		}
	}
	if len(seen) == 0 || seen[len(seen)-1] != "closing" {
		t.Errorf("States seen %v, want closing last", seen)
	}
}

// statesUntilRemoved collects the States of machine's PropertiesChanged
// signals until its MachineRemoved.
func statesUntilRemoved(t *testing.T, sigs <-chan *dbus.Signal, name string) []string {
	t.Helper()
	var seen []string
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case s := <-sigs:
			switch {
			case strings.HasSuffix(s.Name, ".MachineRemoved") && len(s.Body) > 0 && s.Body[0] == name:
				return seen
			case strings.HasSuffix(s.Name, ".PropertiesChanged") && len(s.Body) > 1 && s.Body[0] == "dev.berth.Machine1":
				if v, ok := s.Body[1].(map[string]dbus.Variant)["State"]; ok {
					seen = append(seen, v.Value().(string))
				}
			}
		case <-timeout:
			t.Fatalf("machine %s never removed; States seen %v", name, seen)
		}
	}
}

// TestIntegrationKillBerthdAdopts kills berthd with SIGKILL while a
// machine runs on the embedded backend: the machine keeps running, and a
// new berthd adopts it (registered, running) and powers it off.
func TestIntegrationKillBerthdAdopts(t *testing.T) {
	b := newLifecycleBed(t)
	if err := b.mgr.Call(berthIface+"StartMachine", 0, b.machine).Err; err != nil {
		t.Fatalf("StartMachine: %v", err)
	}
	b.waitRegistered(t, b.machine, true)
	conn := b.bus.Conn(t)
	var leader uint32
	if err := conn.Object(machine1Name, machine1.MachinePath(b.machine)).StoreProperty(machine1Name+".Machine.Leader", &leader); err != nil {
		t.Fatal(err)
	}
	var pid uint32
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, machine1Name).Store(&pid); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(int(pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var has bool
		_ = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, machine1Name).Store(&has)
		if !has {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("berthd still owns its name after SIGKILL")
		}
	}
	if err := syscall.Kill(int(leader), 0); err != nil {
		t.Fatalf("the machine died with berthd: %v", err)
	}
	testbed.StartBerthd(t, b.bus, b.p)
	if !b.registered(b.machine) {
		t.Fatal("the new berthd does not know the machine")
	}
	var state string
	if err := conn.Object(machine1Name, machine1.MachinePath(b.machine)).StoreProperty("dev.berth.Machine1.State", &state); err != nil || state != "running" {
		t.Errorf("State after adoption = %q, %v; want running", state, err)
	}
	if err := b.mgr.Call(berthIface+"PowerOffMachine", 0, b.machine, false).Err; err != nil {
		t.Fatalf("PowerOffMachine through the new berthd: %v", err)
	}
	b.waitRegistered(t, b.machine, false)
}
