package containernet

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/nspawnopts"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
)

// linksScript lists the container's links, then waits like holdScript.
const linksScript = `ls /sys/class/net; echo ready; read x; true`

// spawnerArgs are the common leading options of these tests.
func spawnerArgs(img, machine string, extra ...string) []string {
	return append([]string{"-q", "--pipe", "--keep-unit", "--register=no", "-D", img, "-M", machine}, extra...)
}

// members lists the names of the links enslaved to the bridge br.
func members(t *testing.T, h *netlink.Handle, br netlink.Link) []string {
	t.Helper()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			out = append(out, l.Attrs().Name)
		}
	}
	slices.Sort(out)
	return out
}

// TestIntegrationZone runs three containers in one zone: the bridge
// vz-ZONE exists while any runs, with their vb-* links as members, and is
// removed when the last one goes.
func TestIntegrationZone(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	h := handle(t, ns)
	bin := testbed.Binary(t, "berth-nspawn")
	var rs []*running
	for i := range 3 {
		img := testbed.BusyboxImage(t)
		r := start(t, ns, spawnerEnv(nil), bin, spawnerArgs(img, fmt.Sprintf("zm%d", i), "--network-zone=lab",
			"/bin/sh", "-c", holdScript)...)
		r.until(t, "ready")
		rs = append(rs, r)
	}
	br, err := h.LinkByName("vz-lab")
	if err != nil || br.Type() != "bridge" {
		t.Fatalf("zone bridge vz-lab: %v %v", br, err)
	}
	if diff := cmp.Diff([]string{"vb-zm0", "vb-zm1", "vb-zm2"}, members(t, h, br)); diff != "" {
		t.Errorf("zone members (-want +got):\n%s", diff)
	}
	for i, r := range rs {
		if code := r.stop(t); code != 0 {
			t.Fatalf("container %d: exit %d: %s", i, code, r.errb.String())
		}
		_, err := h.LinkByName("vz-lab")
		if last := i == len(rs)-1; last != (err != nil) {
			t.Errorf("after %d of %d containers ended: vz-lab lookup error %v", i+1, len(rs), err)
		}
	}
}

// TestIntegrationBridge joins an existing bridge: vb-NAME is its member
// and up, and the bridge's index is registered.
func TestIntegrationBridge(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	h := handle(t, ns)
	ns.Exec(t, "ip", "link", "add", "br0", "type", "bridge")
	bus, mgr := startManager(t)
	img := testbed.BusyboxImage(t)
	r := start(t, ns, spawnerEnv(bus), testbed.Binary(t, "berth-nspawn"),
		"-q", "--pipe", "--keep-unit", "-D", img, "-M", "bridged", "--network-bridge=br0", "/bin/sh", "-c", holdScript)
	r.until(t, "ready")
	br, err := h.LinkByName("br0")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"vb-bridged"}, members(t, h, br)); diff != "" {
		t.Errorf("bridge members (-want +got):\n%s", diff)
	}
	if vb, err := h.LinkByName("vb-bridged"); err != nil || vb.Attrs().Flags&(1<<0) == 0 {
		t.Errorf("vb-bridged not up: %v", err)
	}
	reg := <-mgr.calls
	if diff := cmp.Diff(registration{"bridged", []int32{int32(br.Attrs().Index)}}, reg); diff != "" {
		t.Errorf("registration (-want +got):\n%s", diff)
	}
	r.stop(t)
	if _, err := h.LinkByName("br0"); err != nil {
		t.Errorf("a bridge the container did not make was removed: %v", err)
	}
}

// TestIntegrationExtraAndInterface gives a container an extra veth pair
// and a moved link.
func TestIntegrationExtraAndInterface(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	h := handle(t, ns)
	ns.Exec(t, "ip", "link", "add", "moved0", "type", "veth", "peer", "name", "movedp")
	img := testbed.BusyboxImage(t)
	r := start(t, ns, spawnerEnv(nil), testbed.Binary(t, "berth-nspawn"), spawnerArgs(img, "extra",
		"--network-veth-extra=xhost:xcont", "--network-interface=moved0", "/bin/sh", "-c", linksScript)...)
	got := r.until(t, "ready")
	slices.Sort(got)
	if diff := cmp.Diff([]string{"lo", "moved0", "xcont"}, got); diff != "" {
		t.Errorf("container links (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"xhost"}, linkNames(t, h, "x")); diff != "" {
		t.Errorf("host links (-want +got):\n%s", diff)
	}
	if _, err := h.LinkByName("moved0"); err == nil {
		t.Error("moved0 still on the host side")
	}
	r.stop(t)
	if left := linkNames(t, h, "x"); len(left) > 0 {
		t.Errorf("links left: %v", left)
	}
}

// TestIntegrationNamespacePath runs a container in an existing namespace.
func TestIntegrationNamespacePath(t *testing.T) {
	testbed.RequireRoot(t)
	ns, target := testbed.NewNetNS(t), testbed.NewNetNS(t)
	target.Exec(t, "ip", "link", "add", "marker0", "type", "veth", "peer", "name", "markerp")
	img := testbed.BusyboxImage(t)
	r := start(t, ns, spawnerEnv(nil), testbed.Binary(t, "berth-nspawn"), spawnerArgs(img, "joined",
		"--network-namespace-path="+target.Path, "/bin/sh", "-c", linksScript)...)
	got := r.until(t, "ready")
	slices.Sort(got)
	if diff := cmp.Diff([]string{"lo", "marker0", "markerp"}, got); diff != "" {
		t.Errorf("container links (-want +got):\n%s", diff)
	}
	r.stop(t)
}

// TestIntegrationPortsFile checks the ports file berthd reads: written
// while the container runs, removed at its end.
func TestIntegrationPortsFile(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	h := handle(t, ns)
	img := testbed.BusyboxImage(t)
	machine := fmt.Sprintf("ports%d", os.Getpid())
	file := PortsPath(filepath.Join(paths.Default().Run, "ports"), machine)
	r := start(t, ns, spawnerEnv(nil), testbed.Binary(t, "berth-nspawn"), spawnerArgs(img, machine,
		"-n", "-p", "8080:80", "-p", "udp:53", "/bin/sh", "-c", holdScript)...)
	r.until(t, "ready")
	ve, err := h.LinkByName("ve-" + machine)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadPorts(file)
	if err != nil {
		t.Fatal(err)
	}
	want := PortsFile{Machine: machine, Leader: f.Leader, IfIndex: ve.Attrs().Index,
		Ports: []nspawnopts.Port{{Protocol: "tcp", Host: 8080, Container: 80}, {Protocol: "udp", Host: 53, Container: 53}}}
	if diff := cmp.Diff(want, f); diff != "" || f.Leader <= 1 {
		t.Errorf("ports file (-want +got):\n%s", diff)
	}
	r.stop(t)
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("ports file left: %v", err)
	}
}

// TestIntegrationBadValues checks that bad network options fail with one
// line before anything is created, and that a failing setup leaves
// nothing behind.
func TestIntegrationBadValues(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bridge and zone", []string{"--network-bridge=br0", "--network-zone=z"}, "may not be combined"},
		{"port without private network", []string{"-p", "80"}, "without private networking"},
		{"bad port", []string{"-n", "-p", "tcp:0"}, "invalid host port"},
		{"bad protocol", []string{"-n", "-p", "icmp:1"}, "invalid host port"},
		{"zone name too long", []string{"--network-zone=abcdefghijklm"}, "invalid zone name"},
		{"missing bridge", []string{"--network-bridge=nosuchbr"}, "bridge nosuchbr"},
		{"missing interface", []string{"--network-interface=nosuch0"}, "network interface nosuch0"},
	}
	bin := testbed.Binary(t, "berth-nspawn")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := testbed.NewNetNS(t)
			h := handle(t, ns)
			cmd := inNetNS(ns, bin, spawnerArgs(img, "bad", append(tt.args, "/bin/true")...)...)
			cmd.Env = spawnerEnv(nil)
			out, err := cmd.CombinedOutput()
			msg := strings.TrimSpace(string(out))
			if err == nil || cmd.ProcessState.ExitCode() != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, tt.want) {
				t.Errorf("got %v, %q; want exit 1 and one line containing %q", err, msg, tt.want)
			}
			if left := linkNames(t, h, "v"); len(left) > 0 {
				t.Errorf("links left: %v", left)
			}
		})
	}
}
