package register_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/register"
	"github.com/berth-dev/berth/internal/spawn"
	"github.com/berth-dev/berth/internal/testbed"
	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

// call is one method call the fake manager received.
type call struct {
	Method, Name, Service, Class, Root string
	ID                                 []byte
	Leader                             uint32
	Props                              []string
}

// manager is a test-only machine1 Manager exporting the registration
// methods berth-nspawn calls.
type manager struct {
	calls chan call
	// senders are the callers of CreateMachineWithNetwork.
	senders chan string
}

func (m *manager) CreateMachineWithNetwork(sender dbus.Sender, name string, id []byte, service, class string, leader uint32, root string,
	ifindices []int32, props []struct {
		Name  string
		Value dbus.Variant
	}) (dbus.ObjectPath, *dbus.Error) {
	var list []string
	for _, p := range props {
		v := fmt.Sprint(p.Value.Value())
		if p.Name == "Controller" && v == string(sender) {
			v = "SENDER" // the caller's own connection
		}
		list = append(list, p.Name+"="+v)
	}
	select {
	case m.senders <- string(sender):
	default:
	}
	m.calls <- call{"Create", name, service, class, root, id, leader, list}
	return "/org/freedesktop/machine1/machine/test", nil
}

func (m *manager) RegisterMachineWithNetwork(name string, id []byte, service, class string, leader uint32, root string,
	ifindices []int32) (dbus.ObjectPath, *dbus.Error) {
	m.calls <- call{"Register", name, service, class, root, id, leader, nil}
	return "/org/freedesktop/machine1/machine/test", nil
}

func (m *manager) UnregisterMachine(name string) *dbus.Error {
	m.calls <- call{Method: "Unregister", Name: name}
	return nil
}

// startManager owns org.freedesktop.machine1 on b with a fake manager.
func startManager(t *testing.T, b *testbed.Bus) *manager {
	t.Helper()
	conn := b.Conn(t)
	m := &manager{calls: make(chan call, 16), senders: make(chan string, 16)}
	if err := conn.Export(m, register.Path, register.Interface); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(register.BusName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own %s: %v %v", register.BusName, reply, err)
	}
	return m
}

func next(t *testing.T, m *manager) call {
	t.Helper()
	select {
	case c := <-m.calls:
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("no call reached the manager")
		return call{}
	}
}

// baseProps are the scope properties systemd-nspawn always sends.
var baseProps = []string{"Controller=SENDER", "DevicePolicy=closed", "DeviceAllow=[[/dev/net/tun rwm] [char-pts rw]]"}

func TestIntegrationClient(t *testing.T) {
	testbed.RequireRoot(t)
	b := testbed.StartBus(t)
	m := startManager(t, b)
	c := dial(t, b)
	id := [16]byte{1, 2, 3}
	tests := []struct {
		keepUnit   bool
		killSignal int
		want       call
	}{
		{false, 0, call{"Create", "m1", "test-service", "container", "/srv/m1", id[:], 42, baseProps}},
		{false, 37, call{"Create", "m1", "test-service", "container", "/srv/m1", id[:], 42,
			append(baseProps[:3:3], "KillSignal=37", "KillMode=mixed")}},
		{true, 0, call{"Register", "m1", "test-service", "container", "/srv/m1", id[:], 42, nil}},
	}
	for _, tc := range tests {
		err := c.Register(spawn.Machine{Name: "m1", UUID: id, Leader: 42, Directory: "/srv/m1", KeepUnit: tc.keepUnit, KillSignal: tc.killSignal})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, next(t, m)); diff != "" {
			t.Errorf("call (-want +got):\n%s", diff)
		}
	}
	if err := c.Unregister("m1"); err != nil {
		t.Fatal(err)
	}
	if got := next(t, m); got.Method != "Unregister" || got.Name != "m1" {
		t.Errorf("got %+v, want UnregisterMachine(m1)", got)
	}
}

// dial connects a client to b as "test-service".
func dial(t *testing.T, b *testbed.Bus) *register.Client {
	t.Helper()
	c, err := register.DialAddress(b.Address, "test-service")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// run runs berth-nspawn on a busybox image with the bus address given.
func run(t *testing.T, bus string, args ...string) (string, int) {
	t.Helper()
	img := testbed.BusyboxImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testbed.Binary(t, "berth-nspawn"), append([]string{"-q", "-P", "-D", img}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", testbed.SystemBusEnv + "=" + bus}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run()
	return out.String(), cmd.ProcessState.ExitCode()
}

func TestIntegrationRegisterModes(t *testing.T) {
	testbed.RequireRoot(t)
	b := testbed.StartBus(t)
	m := startManager(t, b)
	for _, tc := range []struct {
		args   []string
		method string
	}{
		{[]string{"-M", "t-reg1", "/bin/true"}, "Create"},
		{[]string{"-M", "t-reg2", "--register=yes", "--keep-unit", "/bin/true"}, "Register"},
		{[]string{"-M", "t-reg3", "--register=auto", "/bin/true"}, "Create"},
	} {
		out, code := run(t, b.Address, tc.args...)
		if code != 0 {
			t.Fatalf("%v: status %d: %s", tc.args, code, out)
		}
		got := next(t, m)
		if got.Method != tc.method || got.Name != tc.args[1] || got.Leader == 0 || got.Class != "container" || len(got.ID) != 16 {
			t.Errorf("%v: got %+v, want %s of %s", tc.args, got, tc.method, tc.args[1])
		}
		if un := next(t, m); un.Method != "Unregister" || un.Name != tc.args[1] {
			t.Errorf("%v: got %+v, want UnregisterMachine", tc.args, un)
		}
	}
}

func TestIntegrationRegisterWithoutManager(t *testing.T) {
	testbed.RequireRoot(t)
	b := testbed.StartBus(t)
	tests := []struct {
		name, bus string
		args      []string
		wantCode  int
		wantErr   string
	}{
		{"auto, bus without manager", b.Address, []string{"--register=auto"}, 0, ""},
		{"auto, no bus", "unix:path=/nonexistent/bus", []string{"--register=auto"}, 0, ""},
		{"no, no bus", "unix:path=/nonexistent/bus", []string{"--register=no"}, 0, ""},
		{"yes, no bus", "unix:path=/nonexistent/bus", []string{"--register=yes"}, 1, "cannot connect to the system bus"},
		{"yes, bus without manager", b.Address, []string{"--register=yes"}, 1, "register machine"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, code := run(t, tc.bus, append(tc.args, "-M", "t-noreg", "/bin/true")...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantErr) {
				t.Errorf("status %d, output %q; want %d and %q", code, out, tc.wantCode, tc.wantErr)
			}
		})
	}
}
