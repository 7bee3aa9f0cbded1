package containernet

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/berth-dev/berth/internal/testbed"
)

// berthdBed is a berthd on a private bus with its container networking
// in the test namespace ns, where the tests' spawners run too.
type berthdBed struct {
	bus  *testbed.Bus
	d    *testbed.Berthd
	root string // berthd's --root
	ns   *testbed.NetNS
	mgr  dbus.BusObject
}

func newBerthdBed(t *testing.T) *berthdBed {
	t.Helper()
	testbed.RequireRoot(t)
	bus := testbed.StartBus(t)
	p := testbed.Paths(t)
	// Spawners with BERTH_ROOT read the host's machine ID below it.
	id, err := os.ReadFile("/etc/machine-id")
	if err == nil {
		err = os.MkdirAll(filepath.Join(p.Root, "etc"), 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(p.Root, "etc/machine-id"), id, 0o444)
	}
	if err != nil {
		testbed.Unavailable(t, "no host machine ID: "+err.Error())
	}
	// The spawners leave a mount point for propagated mounts below it.
	t.Cleanup(func() { _ = exec.Command("umount", "-l", filepath.Join(p.Run, "propagate")).Run() })
	d := testbed.StartBerthd(t, bus, p)
	return &berthdBed{bus: bus, d: d, root: p.Root, ns: d.NetNS(t),
		mgr: bus.Conn(t).Object("org.freedesktop.machine1", "/org/freedesktop/machine1")}
}

// env is the environment of spawners next to berthd: its bus, and its
// root for their run-time files (such as the ports file berthd reads).
func (b *berthdBed) env() []string {
	return append(spawnerEnv(b.bus), "BERTH_ROOT="+b.root)
}

// berthLink is one ListLinks row.
type berthLink struct {
	Name              string
	Index             int32
	Zone              bool
	Subnet, Address   string
	Subnet6, Address6 string
}

// berthLease is one ListLeases row.
type berthLease struct {
	Link, Address, HWAddr, Hostname string
	ExpiryUSec                      uint64
}

// call calls a dev.berth.Manager1 method and stores its reply in out.
func (b *berthdBed) call(t *testing.T, method string, out any, args ...any) {
	t.Helper()
	c := b.mgr.Call("dev.berth.Manager1."+method, 0, args...)
	if err := c.Store(out); err != nil {
		t.Fatalf("%s: %v\nberthd:\n%s", method, err, b.d.Log())
	}
}

// link returns berthd's link of this name, if it manages one.
func (b *berthdBed) link(t *testing.T, name string) (berthLink, bool) {
	t.Helper()
	var links []berthLink
	b.call(t, "ListLinks", &links)
	i := slices.IndexFunc(links, func(l berthLink) bool { return l.Name == name })
	if i < 0 {
		return berthLink{}, false
	}
	return links[i], true
}

// leasesOn returns the leased addresses on link, sorted.
func (b *berthdBed) leasesOn(t *testing.T, link string) []string {
	t.Helper()
	var ls []berthLease
	b.call(t, "ListLeases", &ls)
	var out []string
	for _, l := range ls {
		if l.Link == link {
			out = append(out, l.Address)
		}
	}
	slices.Sort(out)
	return out
}

// addresses returns GetMachineAddresses of machine; nil before it is
// registered.
func (b *berthdBed) addresses(machine string) []netip.Addr {
	var rows []struct {
		Family int32
		Addr   []byte
	}
	if err := b.mgr.Call("org.freedesktop.machine1.Manager.GetMachineAddresses", 0, machine).Store(&rows); err != nil {
		return nil
	}
	var out []netip.Addr
	for _, r := range rows {
		if a, ok := netip.AddrFromSlice(r.Addr); ok {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// leader returns the leader PID of a registered machine.
func (b *berthdBed) leader(t *testing.T, machine string) int {
	t.Helper()
	var path dbus.ObjectPath
	if err := b.mgr.Call("org.freedesktop.machine1.Manager.GetMachine", 0, machine).Store(&path); err != nil {
		t.Fatalf("GetMachine %s: %v", machine, err)
	}
	v, err := b.bus.Conn(t).Object("org.freedesktop.machine1", path).GetProperty("org.freedesktop.machine1.Machine.Leader")
	if err != nil {
		t.Fatalf("Leader of %s: %v", machine, err)
	}
	return int(v.Value().(uint32))
}

// until polls cond until it holds, failing t with what() after a generous
// deadline.
func until(t *testing.T, what func() string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what())
		}
	}
}

// routeScript is udhcpc's script in the image: it configures the lease
// and the default route.
const routeScript = `#!/bin/sh
case "$1" in bound|renew)
	ip addr add "$ip/$mask" dev "$interface"
	ip route replace default via "${router%% *}"
esac
`

// vethScript leases an address on host0 and prints it, serves "hello" on
// TCP port 80 (IPv4 and IPv6), prints what a server on the uplink (at
// $UPLINK) saw as its address, then waits for stdin to close.
const vethScript = `ip link set host0 up && udhcpc -i host0 -q -n -t 20 -T 1 -s /udhcpc.sh >/dev/null 2>&1 &&
ip -4 -o addr show dev host0 | awk '{print "lease", $4}'; nc -ll -p 80 -e /bin/echo hello &
echo "uplink $(nc -w 5 $UPLINK </dev/null)"; echo ready; read x; kill $!`

// TestIntegrationVethThroughBerthd runs a busybox container with -n and
// -p next to berthd, whose namespace has a fake uplink: udhcpc in the
// container leases an address that berthd reports as the machine's, the
// container reaches a server on the uplink masqueraded behind the host's
// uplink address, and its port forward reaches its server from berthd's
// loopback and from the uplink, over IPv4 and IPv6.
func TestIntegrationVethThroughBerthd(t *testing.T) {
	b := newBerthdBed(t)
	testbed.RequireTool(t, "udhcpc")
	up := testbed.NewUplink(t, b.ns)
	up.NS.Serve(t, netip.AddrPortFrom(up.Peer4, 7000).String(), testbed.EchoPeer)
	img := testbed.BusyboxImage(t)
	if err := os.WriteFile(filepath.Join(img, "udhcpc.sh"), []byte(routeScript), 0o755); err != nil {
		t.Fatal(err)
	}
	const machine = "vethbox"
	r := start(t, b.ns, b.env(), testbed.Binary(t, "berth-nspawn"), "-q", "--pipe", "--keep-unit",
		"-D", img, "-M", machine, "-n", "-p", "8080:80", "-E", "UPLINK="+up.Peer4.String()+" 7000",
		"/bin/sh", "-c", vethScript)
	out := r.until(t, "ready")
	if len(out) != 2 || !strings.HasPrefix(out[0], "lease ") {
		t.Fatalf("container output %q, want a lease and the uplink's answer; stderr:\n%s\nberthd:\n%s", out, r.errb.String(), b.d.Log())
	}
	leased := netip.MustParsePrefix(strings.TrimPrefix(out[0], "lease ")).Addr()
	if diff := cmp.Diff("uplink "+up.Host4.String(), out[1]); diff != "" {
		t.Errorf("the address the uplink saw (-want +got):\n%s", diff)
	}
	until(t, func() string {
		return fmt.Sprintf("GetMachineAddresses(%s) to have %s: %v", machine, leased, b.addresses(machine))
	},
		func() bool { return slices.Contains(b.addresses(machine), leased) })
	tests := []struct {
		name string
		from *testbed.NetNS
		addr netip.Addr
	}{
		{"host loopback v4", b.ns, netip.MustParseAddr("127.0.0.1")},
		{"uplink v4", up.NS, up.Host4},
		{"uplink v6", up.NS, up.Host6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := netip.AddrPortFrom(tt.addr, 8080).String()
			var got string
			var err error
			until(t, func() string { return fmt.Sprintf("the forward at %s: %q, %v", dst, got, err) }, func() bool {
				got, err = tt.from.Dial(dst)
				return err == nil && got == "hello\n"
			})
		})
	}
	if code := r.stop(t); code != 0 {
		t.Fatalf("exit %d: %s", code, r.errb.String())
	}
}

// zoneScript leases an address on host0 and prints it, then runs each
// line of stdin as a command, printing "end" after each.
const zoneScript = `ip link set host0 up && udhcpc -i host0 -q -n -t 20 -T 1 -s /udhcpc.sh >/dev/null 2>&1 &&
ip -4 -o addr show dev host0 | awk '{print "lease", $4}'; echo ready; while read c; do eval "$c"; echo end; done`

// TestIntegrationZoneThroughBerthd runs three busybox containers with
// --network-zone next to berthd: each leases an address on vz-ZONE from
// berthd (which lists the zone, the leases and each machine's address),
// reaches the next one and the host side, and the bridge and berthd's
// link go when the last container goes.
func TestIntegrationZoneThroughBerthd(t *testing.T) {
	b := newBerthdBed(t)
	testbed.RequireTool(t, "udhcpc")
	bin := testbed.Binary(t, "berth-nspawn")
	const zone = "vz-lab"
	var rs []*running
	var addrs []string
	for i := range 3 {
		img := testbed.BusyboxImage(t)
		if err := os.WriteFile(filepath.Join(img, "udhcpc.sh"), []byte(leaseScript), 0o755); err != nil {
			t.Fatal(err)
		}
		r := start(t, b.ns, b.env(), bin, "-q", "--pipe", "--keep-unit", "-D", img,
			"-M", fmt.Sprintf("zm%d", i), "--network-zone=lab", "/bin/sh", "-c", zoneScript)
		out := r.until(t, "ready")
		if len(out) != 1 || !strings.HasPrefix(out[0], "lease ") {
			t.Fatalf("container %d: output %q, want a lease; stderr:\n%s\nberthd:\n%s", i, out, r.errb.String(), b.d.Log())
		}
		p := netip.MustParsePrefix(strings.TrimPrefix(out[0], "lease "))
		rs, addrs = append(rs, r), append(addrs, p.Addr().String())
	}
	l, ok := b.link(t, zone)
	if !ok || !l.Zone || !strings.HasSuffix(l.Subnet, "/24") {
		t.Fatalf("berthd's zone link: %+v, %v", l, ok)
	}
	want := slices.Sorted(slices.Values(addrs))
	if diff := cmp.Diff(want, b.leasesOn(t, zone)); diff != "" {
		t.Errorf("leases on %s (-want +got):\n%s", zone, diff)
	}
	for i, addr := range addrs {
		machine := fmt.Sprintf("zm%d", i)
		until(t, func() string {
			return fmt.Sprintf("GetMachineAddresses(%s) to have %s: %v", machine, addr, b.addresses(machine))
		},
			func() bool { return slices.Contains(b.addresses(machine), netip.MustParseAddr(addr)) })
	}
	for i, r := range rs {
		next := addrs[(i+1)%len(addrs)]
		r.stdin.Write([]byte(fmt.Sprintf("ping -c 1 -W 5 %s >/dev/null && echo peer; ping -c 1 -W 5 %s >/dev/null && echo host\n", next, l.Address)))
		if diff := cmp.Diff([]string{"peer", "host"}, r.until(t, "end")); diff != "" {
			t.Errorf("container %d reaching %s and the host %s (-want +got):\n%s", i, next, l.Address, diff)
		}
	}
	h := handle(t, b.ns)
	for i, r := range rs {
		if code := r.stop(t); code != 0 {
			t.Fatalf("container %d: exit %d: %s", i, code, r.errb.String())
		}
	}
	if _, err := h.LinkByName(zone); err == nil {
		t.Errorf("%s left after the last member went", zone)
	}
	until(t, func() string { return "berthd to release " + zone }, func() bool { _, ok := b.link(t, zone); return !ok })
}

// networkdUnits are what `systemctl enable systemd-networkd` links.
var networkdUnits = map[string]string{
	"multi-user.target.wants/systemd-networkd.service":                 "systemd-networkd.service",
	"sockets.target.wants/systemd-networkd.socket":                     "systemd-networkd.socket",
	"network-online.target.wants/systemd-networkd-wait-online.service": "systemd-networkd-wait-online.service",
}

// enableNetworkd enables systemd-networkd in the image at root.
func enableNetworkd(t *testing.T, root string) {
	t.Helper()
	for link, unit := range networkdUnits {
		path := filepath.Join(root, "etc/systemd/system", link)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/lib/systemd/system/"+unit, path); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
}

// TestSystemNetworkdGuest boots the Debian image with systemd-networkd
// enabled (berth-nspawn -b -n) next to berthd: the guest's networkd
// leases an address on host0 from berthd's server, which berthd lists
// as the machine's address and lease; the address is on host0 inside,
// and the guest reaches the host side.
func TestSystemNetworkdGuest(t *testing.T) {
	b := newBerthdBed(t)
	root := testbed.CloneDebianImage(t)
	enableNetworkd(t, root)
	const machine = "netguest"
	var out syncBuffer
	cmd := inNetNS(b.ns, testbed.Binary(t, "berth-nspawn"), "-q", "--keep-unit", "-D", root, "-M", machine, "-b", "-n")
	cmd.Env = b.env()
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(waitTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	var leased netip.Addr
	until(t, func() string {
		return fmt.Sprintf("a leased address of %s; guest:\n%s\nberthd:\n%s", machine, out.String(), b.d.Log())
	},
		func() bool {
			for _, a := range b.addresses(machine) {
				if a.Is4() {
					leased = a
					return true
				}
			}
			return false
		})
	ve := "ve-" + machine
	l, ok := b.link(t, ve)
	if !ok || !netip.MustParsePrefix(l.Subnet).Contains(leased) {
		t.Fatalf("berthd's %s: %+v, %v; leased %v", ve, l, ok, leased)
	}
	leader := strconv.Itoa(b.leader(t, machine))
	// networkd sends the guest's host name (its /etc/hostname).
	hostname, err := exec.Command("nsenter", "-t", leader, "-u", "hostname").Output()
	if err != nil {
		t.Fatal(err)
	}
	var ls []berthLease
	b.call(t, "ListLeases", &ls)
	ls = slices.DeleteFunc(ls, func(l berthLease) bool { return l.Link != ve })
	wantLease := berthLease{Link: ve, Address: leased.String(), Hostname: strings.TrimSpace(string(hostname))}
	if len(ls) != 1 || !cmp.Equal(wantLease, ls[0], cmpopts.IgnoreFields(berthLease{}, "HWAddr", "ExpiryUSec")) {
		t.Errorf("leases on %s: %+v; want one like %+v", ve, ls, wantLease)
	}
	inside := func(args ...string) (string, error) {
		out, err := exec.Command("nsenter", append([]string{"-t", leader, "-n", "--"}, args...)...).CombinedOutput()
		return string(out), err
	}
	if got, err := inside("ip", "-4", "-o", "addr", "show", "dev", "host0"); err != nil ||
		!strings.Contains(got, " "+leased.String()+"/"+strings.Split(l.Subnet, "/")[1]+" ") {
		t.Errorf("host0 inside the guest (%v):\n%s\nwant %s in %s", err, got, leased, l.Subnet)
	}
	if got, err := inside("busybox", "ping", "-c", "1", "-W", "5", l.Address); err != nil {
		t.Errorf("the guest does not reach the host side %s: %v\n%s", l.Address, err, got)
	}
	// The guest's bus may come up after networkd's lease.
	want := fmt.Sprintf("%s (DHCP4 via %s)", leased, l.Address)
	var status []byte
	until(t, func() string { return fmt.Sprintf("networkctl status host0 inside to say %q:\n%s", want, status) }, func() bool {
		networkctl := exec.Command("nsenter", "-t", leader, "-a", "--", "networkctl", "--no-pager", "status", "host0")
		networkctl.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"} // the guest's own system bus
		status, _ = networkctl.CombinedOutput()
		return strings.Contains(string(status), want)
	})
}
