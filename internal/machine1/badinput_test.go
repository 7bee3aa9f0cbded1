package machine1_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/machine1"
	"github.com/berth-dev/berth/internal/testbed"
)

const (
	invalidArgs   = "org.freedesktop.DBus.Error.InvalidArgs"
	noSuchMachine = "org.freedesktop.machine1.NoSuchMachine"
	unknownObject = "org.freedesktop.DBus.Error.UnknownObject"
	machineExists = "org.freedesktop.machine1.MachineExists"
	notSupported  = "org.freedesktop.DBus.Error.NotSupported"
)

// TestIntegrationBadInput sends hostile and malformed calls as root (the
// hardening checklist's D-Bus and name items): each gets its typed error,
// the daemon stays up and the registry is unchanged.
func TestIntegrationBadInput(t *testing.T) {
	testbed.RequireRoot(t)
	bus := testbed.StartBus(t)
	d := startBerthd(t, bus, t.TempDir())
	good, spare, gone := startLeader(t), startLeader(t), startLeader(t)
	register(t, "good", good.PID, "")
	killLeader(t, gone)
	conn := bus.Conn(t)
	reg := func(name string, id []byte, class string, leader uint32, root string) call {
		return call{machine1.ManagerPath, mgr + "RegisterMachine", []any{name, id, "svc", class, leader, root}}
	}
	withNet := func(ifs ...int32) call {
		return call{machine1.ManagerPath, mgr + "RegisterMachineWithNetwork", []any{"n1", []byte{}, "s", "container", spare.PID, "", ifs}}
	}
	tests := []struct {
		name string
		c    call
		want string
	}{
		{"no args", call{machine1.ManagerPath, mgr + "GetMachine", nil}, invalidArgs},
		{"wrong type", call{machine1.ManagerPath, mgr + "GetMachine", []any{int32(1)}}, invalidArgs},
		{"extra arg", call{machine1.ManagerPath, mgr + "GetMachine", []any{"good", "x"}}, invalidArgs},
		{"register wrong signature", call{machine1.ManagerPath, mgr + "RegisterMachine", []any{"x", "y"}}, invalidArgs},
		{"leader 1", reg("l1", nil, "container", 1, ""), invalidArgs},
		{"leader berthd", reg("l2", nil, "container", uint32(d.PID()), ""), invalidArgs},
		{"leader exited", reg("l3", nil, "container", gone.PID, ""), invalidArgs},
		{"leader taken", reg("l4", nil, "container", good.PID, ""), machineExists},
		{"name taken", reg("good", nil, "container", spare.PID, ""), machineExists},
		{"name .host", reg(".host", nil, "container", spare.PID, ""), invalidArgs},
		{"id of 5 bytes", reg("i1", []byte("12345"), "container", spare.PID, ""), invalidArgs},
		{"class host", reg("c1", nil, "host", spare.PID, ""), invalidArgs},
		{"relative root", reg("r1", nil, "container", spare.PID, "var/lib"), invalidArgs},
		{"ifindex 0", withNet(0), invalidArgs},
		{"ifindex negative", withNet(-5), invalidArgs},
		{"kill bogus who", call{machine1.ManagerPath, mgr + "KillMachine", []any{"good", "everyone", int32(15)}}, invalidArgs},
		{"kill signal 0", call{machine1.ManagerPath, mgr + "KillMachine", []any{"good", "all", int32(0)}}, invalidArgs},
		{"kill signal 65", call{machine1.ManagerPath, mgr + "KillMachine", []any{"good", "all", int32(65)}}, invalidArgs},
		{"kill host", call{machine1.ManagerPath, mgr + "KillMachine", []any{".host", "all", int32(15)}}, notSupported},
		{"terminate host", call{machine1.ManagerPath, mgr + "TerminateMachine", []any{".host"}}, notSupported},
		{"get by pid of a host process", call{machine1.ManagerPath, mgr + "GetMachineByPID", []any{uint32(os.Getpid())}}, "org.freedesktop.machine1.NoMachineForPID"},
		{"unknown machine path", call{"/org/freedesktop/machine1/machine/nosuch", mch + "Terminate", nil}, unknownObject},
		{"non-canonical label", call{"/org/freedesktop/machine1/machine/_67ood", "org.freedesktop.DBus.Properties.GetAll", []any{""}}, unknownObject},
		{"self of a host process", call{"/org/freedesktop/machine1/machine/self", "org.freedesktop.DBus.Properties.GetAll", []any{""}}, unknownObject},
		{"deep path", call{dbus.ObjectPath("/org/freedesktop/machine1/machine/good/" + strings.Repeat("a/", 1000) + "b"), mch + "Terminate", nil}, unknownObject},
		{"unknown path", call{"/org/freedesktop/machine2", mch + "Terminate", nil}, unknownObject},
		{"set property", call{machine1.MachinePath("good"), "org.freedesktop.DBus.Properties.Set", []any{busName + ".Machine", "Leader", dbus.MakeVariant(uint32(1))}}, "org.freedesktop.DBus.Error.PropertyReadOnly"},
	}
	for _, name := range hostileNames {
		tests = append(tests,
			struct {
				name string
				c    call
				want string
			}{fmt.Sprintf("register %q", trunc(name)), reg(name, nil, "container", spare.PID, ""), invalidArgs},
			struct {
				name string
				c    call
				want string
			}{fmt.Sprintf("get %q", trunc(name)), call{machine1.ManagerPath, mgr + "GetMachine", []any{name}}, noSuchMachine})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorName(conn.Object(busName, tt.c.path).Call(tt.c.method, 0, tt.c.args...).Err)
			if got != tt.want {
				t.Errorf("%s = %s, want %s", tt.c.method, got, tt.want)
			}
		})
	}
	if got := listNames(t, bus); !cmp.Equal(got, []string{".host", "good"}) || !alive(good.PID) || !alive(spare.PID) {
		t.Errorf("bad input changed the registry: %v", got)
	}
}

// hostileNames are machine names every entry point must refuse.
var hostileNames = []string{
	"../x", "a/b", ".", "..", "", ".#t", "-x", "a..b", "a_b",
	strings.Repeat("a", 65), strings.Repeat("b", 256), strings.Repeat("c", 100<<10),
	"a\nb", "a\x01b", "a\u202eb", "caf\u00e9", "cafe\u0301", "a b", "a\tb", "x-",
}

func trunc(s string) string {
	if len(s) > 20 {
		return fmt.Sprintf("%s…(%d bytes)", s[:20], len(s))
	}
	return s
}

// TestIntegrationConcurrentCalls sends a few thousand ListMachines and
// GetMachine calls at once over several connections, while hundreds of
// TerminateMachine calls race on one machine: every call is answered and
// the machine is removed exactly once.
func TestIntegrationConcurrentCalls(t *testing.T) {
	testbed.RequireRoot(t)
	bus := testbed.StartBus(t)
	startBerthd(t, bus, t.TempDir())
	l := startLeader(t)
	register(t, "busy", l.PID, "")
	victim := exec.Command("sleep", "1000000")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = victim.Process.Kill(); _ = victim.Wait() })
	register(t, "victim", uint32(victim.Process.Pid), "")
	signals := watchSignals(t, bus)
	var terminated sync.WaitGroup
	for i := 0; i < 300; i++ {
		terminated.Add(1)
		go func() {
			defer terminated.Done()
			err := bus.Conn(t).Object(busName, machine1.ManagerPath).Call(mgr+"TerminateMachine", 0, "victim").Err
			if name := errorName(err); name != "OK" && name != noSuchMachine {
				t.Errorf("TerminateMachine = %s", name)
			}
		}()
	}
	const conns, perConn = 8, 400
	var wg sync.WaitGroup
	errs := make(chan error, conns*perConn)
	for c := 0; c < conns; c++ {
		conn := bus.Conn(t)
		for i := 0; i < perConn; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := mgr + "ListMachines"
				args := []any{}
				if i%2 == 1 {
					m, args = mgr+"GetMachine", []any{"busy"}
				}
				if call := conn.Object(busName, machine1.ManagerPath).Call(m, 0, args...); call.Err != nil {
					errs <- call.Err
				}
			}()
		}
	}
	wg.Wait()
	terminated.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent call failed: %v", err)
	}
	signals.expect(t, "MachineRemoved victim")
	if got := listNames(t, bus); !cmp.Equal(got, []string{".host", "busy"}) {
		t.Errorf("ListMachines after the storm = %v", got)
	}
	select {
	case s := <-signals.ch:
		t.Errorf("unexpected signal after the storm: %v %v", s.Name, s.Body)
	default:
	}
}
