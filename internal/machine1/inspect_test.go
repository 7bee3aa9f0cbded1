package machine1_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/machine1"
	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationInspect checks GetAddresses (read inside the machine's
// network namespace), NoPrivateNetworking, the UID shift and the four Map
// methods of a user-namespaced machine, with the bus and machinectl.
func TestIntegrationInspect(t *testing.T) {
	testbed.RequireRoot(t)
	bus := testbed.StartBus(t)
	startBerthd(t, bus, t.TempDir())
	netted := startLeader(t, "--net")
	shared := startLeader(t)
	userns := startLeader(t, "--user")
	for _, f := range []string{"uid_map", "gid_map"} {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/%s", userns.PID, f), []byte("0 524288 65536\n"), 0); err != nil {
			t.Fatal(err)
		}
	}
	register(t, "netted", netted.PID, "")
	register(t, "shared", shared.PID, "")
	register(t, "userns", userns.PID, "")
	nsenter := testbed.RequireTool(t, "nsenter")
	for _, args := range [][]string{{"ip", "link", "set", "lo", "up"}, {"ip", "addr", "add", "192.0.2.7/32", "dev", "lo"},
		{"ip", "addr", "add", "2001:db8::7/128", "dev", "lo"}} {
		argv := append([]string{"-t", strconv.Itoa(int(netted.PID)), "-n"}, args...)
		if out, err := exec.Command(nsenter, argv...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	conn := bus.Conn(t)
	manager := conn.Object(busName, machine1.ManagerPath)

	t.Run("addresses", func(t *testing.T) {
		var rows []struct {
			Family int32
			Addr   []byte
		}
		if err := manager.Call(mgr+"GetMachineAddresses", 0, "netted").Store(&rows); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%d %s", r.Family, net.IP(r.Addr)))
		}
		if diff := cmp.Diff([]string{"2 192.0.2.7", "10 2001:db8::7"}, got); diff != "" {
			t.Errorf("GetMachineAddresses (-want +got):\n%s", diff)
		}
		err := manager.Call(mgr+"GetMachineAddresses", 0, "shared").Err
		if got := errorName(err); got != "org.freedesktop.machine1.NoPrivateNetworking" {
			t.Errorf("GetMachineAddresses of a host-network machine = %s", got)
		}
		if out := mustMachinectl(t, "status", "netted"); !strings.Contains(out, "192.0.2.7") {
			t.Errorf("machinectl status lacks the address:\n%s", out)
		}
	})
	t.Run("uid shift", func(t *testing.T) {
		for name, want := range map[string]uint32{"userns": 524288, "shared": 0, ".host": 0} {
			var shift uint32
			if err := manager.Call(mgr+"GetMachineUIDShift", 0, name).Store(&shift); err != nil || shift != want {
				t.Errorf("GetMachineUIDShift(%s) = %d, %v; want %d", name, shift, err, want)
			}
		}
		if out := mustMachinectl(t, "status", "userns"); !strings.Contains(out, "UID Shift: 524288") {
			t.Errorf("machinectl status lacks the UID shift:\n%s", out)
		}
	})
	t.Run("map", func(t *testing.T) {
		var outer uint32
		if err := manager.Call(mgr+"MapFromMachineUser", 0, "userns", uint32(1000)).Store(&outer); err != nil || outer != 525288 {
			t.Errorf("MapFromMachineUser = %d, %v", outer, err)
		}
		var name string
		var path dbus.ObjectPath
		var inner uint32
		if err := manager.Call(mgr+"MapToMachineGroup", 0, uint32(525288)).Store(&name, &path, &inner); err != nil ||
			name != "userns" || path != machine1.MachinePath("userns") || inner != 1000 {
			t.Errorf("MapToMachineGroup = %s %s %d, %v", name, path, inner, err)
		}
		for _, c := range []struct {
			method string
			args   []any
			want   string
		}{
			{"MapToMachineUser", []any{uint32(1000)}, "org.freedesktop.machine1.NoSuchUserMapping"},
			{"MapToMachineGroup", []any{uint32(9000000)}, "org.freedesktop.machine1.NoSuchGroupMapping"},
			{"MapFromMachineUser", []any{"userns", uint32(70000)}, "org.freedesktop.machine1.NoSuchUserMapping"},
			{"MapFromMachineUser", []any{"userns", uint32(0xFFFFFFFF)}, invalidArgs},
			{"MapFromMachineUser", []any{".host", uint32(0)}, notSupported},
		} {
			if got := errorName(manager.Call(mgr+c.method, 0, c.args...).Err); got != c.want {
				t.Errorf("%s%v = %s, want %s", c.method, c.args, got, c.want)
			}
		}
	})
	t.Run("self", func(t *testing.T) {
		// busctl run inside netted's PID namespace finds its machine as "self".
		cmd := exec.Command(nsenter, "-t", strconv.Itoa(int(netted.PID)), "-p", "--", testbed.RequireTool(t, "busctl"),
			"--system", "get-property", busName, "/org/freedesktop/machine1/machine/self", busName+".Machine", "Name")
		cmd.Env = []string{testbed.SystemBusEnv + "=" + os.Getenv(testbed.SystemBusEnv)}
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != `s "netted"` {
			t.Errorf("self from inside netted = %q, %v", out, err)
		}
	})
	t.Run("state change signal", func(t *testing.T) {
		if err := conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.DBus.Properties"),
			dbus.WithMatchObjectPath(machine1.MachinePath("shared"))); err != nil {
			t.Fatal(err)
		}
		ch := make(chan *dbus.Signal, 16)
		conn.Signal(ch)
		if err := manager.Call(mgr+"TerminateMachine", 0, "shared").Err; err != nil {
			t.Fatal(err)
		}
		s := <-ch
		want := []any{"dev.berth.Machine1", map[string]dbus.Variant{"State": dbus.MakeVariant("closing")}, []string{}}
		if diff := cmp.Diff(want, s.Body, cmp.Comparer(func(a, b dbus.Variant) bool { return a.String() == b.String() })); diff != "" {
			t.Errorf("PropertiesChanged (-want +got):\n%s", diff)
		}
	})
}
