package containernet

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

// registration is one RegisterMachineWithNetwork call.
type registration struct {
	Name      string
	IfIndices []int32
}

// manager is a test-only machine1 Manager recording registrations.
type manager struct{ calls chan registration }

func (m *manager) RegisterMachineWithNetwork(name string, id []byte, service, class string, leader uint32, root string,
	ifindices []int32) (dbus.ObjectPath, *dbus.Error) {
	m.calls <- registration{name, ifindices}
	return "/org/freedesktop/machine1/machine/test", nil
}

func (m *manager) UnregisterMachine(string) *dbus.Error { return nil }

// startManager owns org.freedesktop.machine1 on a private bus.
func startManager(t *testing.T) (*testbed.Bus, *manager) {
	t.Helper()
	bus := testbed.StartBus(t)
	conn := bus.Conn(t)
	m := &manager{calls: make(chan registration, 8)}
	if err := conn.Export(m, "/org/freedesktop/machine1", "org.freedesktop.machine1.Manager"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.freedesktop.machine1", dbus.NameFlagDoNotQueue); err != nil ||
		reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own machine1: %v %v", reply, err)
	}
	return bus, m
}

func hostID(t *testing.T) [16]byte {
	t.Helper()
	id, err := HostMachineID("/etc/machine-id")
	if err != nil {
		testbed.Unavailable(t, "no host machine ID: "+err.Error())
	}
	return id
}

func TestIntegrationVeth(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	h := handle(t, ns)
	bus, mgr := startManager(t)
	img := testbed.BusyboxImage(t)
	const name = "vethtest"
	r := start(t, ns, spawnerEnv(bus), testbed.Binary(t, "berth-nspawn"),
		"-q", "--pipe", "--keep-unit", "-D", img, "-M", name, "-n", "/bin/sh", "-c", holdScript)
	out := r.until(t, "ready")
	id := hostID(t)
	if want := net.HardwareAddr(MAC(id, name, containerHashKey, 0)).String(); !slices.Equal(out, []string{want}) {
		t.Errorf("host0 address %q, want %q", out, want)
	}
	ve, err := h.LinkByName("ve-" + name)
	if err != nil {
		t.Fatalf("no ve-%s on the host side: %v", name, err)
	}
	if got, want := ve.Attrs().HardwareAddr.String(), net.HardwareAddr(MAC(id, name, hostHashKey, 0)).String(); got != want {
		t.Errorf("ve-%s address %s, want %s", name, got, want)
	}
	select {
	case reg := <-mgr.calls:
		want := registration{name, []int32{int32(ve.Attrs().Index)}}
		if diff := cmp.Diff(want, reg); diff != "" {
			t.Errorf("registration (-want +got):\n%s", diff)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no registration")
	}
	if code := r.stop(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, r.errb.String())
	}
	if left := linkNames(t, h, "ve-"); len(left) > 0 {
		t.Errorf("links left after exit: %v", left)
	}
}
