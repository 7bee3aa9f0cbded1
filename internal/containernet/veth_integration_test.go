package containernet

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/nspawnopts"
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

// TestIntegrationVethWaitsForOldLink starts a machine whose old host-side
// veth is still there, as it is for a moment after the machine stopped
// (the kernel deletes it with the old network namespace, asynchronously).
// Setup names the problem while the old namespace stays, and succeeds
// once the namespace is gone and the kernel has deleted the old link.
func TestIntegrationVethWaitsForOldLink(t *testing.T) {
	testbed.RequireRoot(t)
	host, old := testbed.NewNetNS(t), testbed.NewNetNS(t)
	const name = "again"
	host.Veth(t, "ve-"+name, old, ContainerIfName)
	spec := Spec{Machine: name, Network: nspawnopts.Network{Veth: true}, RunDir: t.TempDir()}
	err := host.Do(func() error {
		spec.Leader = unix.Gettid() // host0 goes next to ve-again: no clash with the old one
		if nw, err := Setup(spec); !errors.Is(err, unix.EEXIST) || !strings.Contains(err.Error(), "is a machine of this name running?") {
			if err == nil {
				nw.Close()
			}
			return fmt.Errorf("setup while the old link stays: %v, want EEXIST naming the problem", err)
		}
		go func() { _ = exec.Command("ip", "netns", "del", old.Name).Run() }()
		nw, err := Setup(spec)
		if err != nil {
			return fmt.Errorf("setup after the old namespace went: %w", err)
		}
		defer nw.Close()
		if len(nw.IfIndices) != 1 {
			return fmt.Errorf("interfaces %v, want the new veth", nw.IfIndices)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
