package machine1_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/dbus-interfaces"
	"github.com/berth-dev/berth/internal/berthapi"
	"github.com/berth-dev/berth/internal/containernet"
	"github.com/berth-dev/berth/internal/machine1"
	"github.com/berth-dev/berth/internal/nspawnopts"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationContainerNetwork runs berthd in its own network
// namespace with a veth to a "container" namespace: udhcpc there gets an
// address that GetMachineAddresses, machinectl and ListLeases show; a port
// forward reaches a server in the container from berthd's loopback; a
// link without a lease is diagnosed; after kill -9 and a restart the
// client renews the same address and the forward works again; nobody may
// not change forwards; SIGTERM stops berthd cleanly, leaving the link
// configured.
func TestIntegrationContainerNetwork(t *testing.T) {
	testbed.RequireRoot(t)
	testbed.RequireTool(t, "udhcpc")
	bus := testbed.StartBus(t)
	host, ctr, idle := testbed.NewNetNS(t), testbed.NewNetNS(t), testbed.NewNetNS(t)
	host.Exec(t, "ip", "link", "set", "lo", "up")
	root := t.TempDir()
	d := startBerthdIn(t, bus, root, host)
	idx := veth(t, host, ctr, "ve-testbox")
	registerIn(t, "box", ctr, idx)
	client := startDHCPClient(t, ctr)
	addr := client.wait(t, "bound")

	t.Run("links", func(t *testing.T) {
		var links []berthapi.Link
		berthCall(t, bus, "ListLinks", &links)
		if len(links) != 1 || links[0].Name != "ve-testbox" || links[0].Index != idx || links[0].Zone ||
			!strings.HasSuffix(links[0].Subnet, "/28") || links[0].Address == "" {
			t.Errorf("ListLinks = %+v", links)
		}
	})
	t.Run("addresses", func(t *testing.T) {
		// The container may also have configured an IPv6 address by SLAAC.
		if got := machineAddresses(t, bus, "box"); len(got) == 0 || got[0] != addr || slices.ContainsFunc(got[1:], isIPv4) {
			t.Errorf("GetMachineAddresses = %v, want %s and IPv6 only", got, addr)
		}
		var leases []berthapi.Lease
		berthCall(t, bus, "ListLeases", &leases)
		if len(leases) != 1 || leases[0].Link != "ve-testbox" || leases[0].Address != addr || leases[0].ExpiryUSec < uint64(time.Now().UnixMicro()) {
			t.Errorf("ListLeases = %+v, want one for %s", leases, addr)
		}
		if out := mustMachinectl(t, "list"); !strings.Contains(out, addr) {
			t.Errorf("machinectl list lacks %s:\n%s", addr, out)
		}
		if out := mustMachinectl(t, "status", "box"); !strings.Contains(out, "Address: "+addr) {
			t.Errorf("machinectl status lacks %s:\n%s", addr, out)
		}
	})
	serveIn(t, ctr, ":80")
	t.Run("port forward", func(t *testing.T) {
		berthCall(t, bus, "AddPortForward", nil, "box", "tcp", uint16(8080), uint16(80))
		var fws []berthapi.Forward
		eventually(t, "the forward to follow the SLAAC address", func() bool {
			berthCall(t, bus, "ListPortForwards", &fws)
			return len(fws) == 1 && fws[0].Address6 != ""
		})
		if want := []berthapi.Forward{{Machine: "box", Proto: "tcp", HostPort: 8080, ContainerPort: 80,
			Address: addr, Address6: fws[0].Address6, Persistent: true}}; !cmp.Equal(want, fws) {
			t.Errorf("ListPortForwards (-want +got):\n%s", cmp.Diff(want, fws))
		}
		if got, err := host.Dial("127.0.0.1:8080"); err != nil || got != "hello" {
			t.Errorf("dial the forward from berthd's loopback: %q, %v", got, err)
		}
		var links []berthapi.Link
		berthCall(t, bus, "ListLinks", &links)
		v6 := net.JoinHostPort(links[0].Address6, "8080")
		if got, err := host.Dial(v6); err != nil || got != "hello" {
			t.Errorf("dial the forward at the host's IPv6 address %s: %q, %v", v6, got, err)
		}
	})
	t.Run("ports file", func(t *testing.T) {
		pf := containernet.PortsFile{Machine: "box", Leader: 1, IfIndex: int(idx), Ports: []nspawnopts.Port{{Protocol: "tcp", Host: 8081, Container: 80}}}
		dir := filepath.Join(paths.Under(root).Run, "ports")
		if err := containernet.WritePorts(dir, pf); err != nil {
			t.Fatal(err)
		}
		if got, err := dialUntil(host, "127.0.0.1:8081"); err != nil || got != "hello" {
			t.Errorf("dial berth-nspawn's forward from berthd's loopback: %q, %v", got, err)
		}
		if err := os.Remove(containernet.PortsPath(dir, "box")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the forward to go with its ports file", func() bool {
			var fws []berthapi.Forward
			berthCall(t, bus, "ListPortForwards", &fws)
			return len(fws) == 1
		})
	})
	t.Run("unprivileged", func(t *testing.T) {
		for _, args := range [][]string{{"AddPortForward", "ssqq", "box", "tcp", "8081", "80"}, {"RemovePortForward", "ssq", "box", "tcp", "8080"}} {
			out, err := busctl(t, true, append([]string{"call", busName, "/org/freedesktop/machine1", dbusinterfaces.BerthManager}, args...)...)
			if err == nil || !strings.Contains(strings.ToLower(out), "denied") {
				t.Errorf("%s as nobody: %v: %s", args[0], err, out)
			}
		}
		var fws []berthapi.Forward
		berthCall(t, bus, "ListPortForwards", &fws)
		if len(fws) != 1 {
			t.Errorf("forwards changed by nobody: %+v", fws)
		}
	})
	t.Run("diagnose", func(t *testing.T) {
		registerIn(t, "idle", idle, veth(t, host, idle, "ve-testidle"))
		registerIn(t, "nonet", idle, 0)
		eventually(t, "ve-testidle to be configured", func() bool {
			var links []berthapi.Link
			berthCall(t, bus, "ListLinks", &links)
			return len(links) == 2
		})
		tests := []struct {
			machine string
			want    []string
		}{
			{"idle", []string{"no-lease"}},
			{"nonet", []string{"no-link"}},
		}
		for _, tt := range tests {
			var fs []berthapi.Finding
			berthCall(t, bus, "DiagnoseNetwork", &fs, tt.machine)
			var codes []string
			for _, f := range fs {
				codes = append(codes, f.Code)
			}
			if !cmp.Equal(tt.want, codes) {
				t.Errorf("DiagnoseNetwork(%s) = %+v, want codes %v", tt.machine, fs, tt.want)
			}
		}
	})
	t.Run("restart", func(t *testing.T) {
		// berthd writes lease files at most once a second: a kill -9
		// sooner loses the newest lease (the client keeps it by renewing).
		eventually(t, "the lease on disk", func() bool {
			b, _ := os.ReadFile(filepath.Join(paths.Under(root).State, "network", "ve-testbox.leases"))
			return strings.Contains(string(b), `"`+addr+`"`)
		})
		d.Stop(syscall.SIGKILL)
		d := startBerthdIn(t, bus, root, host)
		_ = os.Remove(client.lease)
		forwardWorks(t, bus, host)
		if err := client.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		if got := client.wait(t, "renew"); got != addr {
			t.Errorf("renewed %s, had %s", got, addr)
		}
		berthCall(t, bus, "RemovePortForward", nil, "box", "tcp", uint16(8080))
		if _, err := host.Dial("127.0.0.1:8080"); err == nil {
			t.Error("the removed forward still connects")
		}
		// berthd is this subtest's: stop it cleanly here.
		if st := d.Stop(syscall.SIGTERM); !st.Success() {
			t.Errorf("berthd after SIGTERM: %v", st)
		}
		if out := host.Exec(t, "ip", "-4", "addr", "show", "ve-testbox"); !strings.Contains(out, "inet ") {
			t.Errorf("the link lost its address when berthd stopped:\n%s", out)
		}
	})
}

// forwardWorks waits for host port 8080 on berthd's loopback to reach the
// container's server, and says what berthd had if it never does.
func forwardWorks(t *testing.T, bus *testbed.Bus, host *testbed.NetNS) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := host.Dial("127.0.0.1:8080")
		if err == nil && got == "hello" {
			return
		}
		if time.Now().After(deadline) {
			var fws []berthapi.Forward
			var leases []berthapi.Lease
			berthCall(t, bus, "ListPortForwards", &fws)
			berthCall(t, bus, "ListLeases", &leases)
			nft, _ := host.Command("nft", "list", "ruleset").CombinedOutput()
			t.Fatalf("the forward does not work: %q, %v\nforwards %+v\nleases %+v\n%s", got, err, fws, leases, nft)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startBerthdIn starts berthd with container networking inside ns.
func startBerthdIn(t *testing.T, bus *testbed.Bus, root string, ns *testbed.NetNS) *testbed.Berthd {
	t.Helper()
	return testbed.StartBerthdIn(t, bus, paths.Under(root), ns, "--stop-timeout", "5s")
}

// veth adds ve-NAME in host with its peer host0 in ctr and returns the
// host side's interface index.
func veth(t *testing.T, host, ctr *testbed.NetNS, name string) int32 {
	t.Helper()
	ctr.Exec(t, "ip", "link", "set", "lo", "up")
	return int32(host.Veth(t, name, ctr, "host0"))
}

// registerIn registers a machine whose leader lives in ctr with the
// host-side interface ifindex (none if 0).
func registerIn(t *testing.T, name string, ctr *testbed.NetNS, ifindex int32) {
	t.Helper()
	l := startLeaderCmd(t, "sleep", nil, testbed.RequireTool(t, "nsenter"), "--net="+ctr.Path, "sleep", "1000000")
	args := []string{"call", busName, "/org/freedesktop/machine1", busName + ".Manager", "RegisterMachineWithNetwork",
		"sayssusai", name, "0", "test", "container", strconv.FormatUint(uint64(l.PID), 10), "", "0"}
	if ifindex != 0 {
		args[len(args)-1] = "1"
		args = append(args, strconv.Itoa(int(ifindex)))
	}
	if out, err := busctl(t, false, args...); err != nil {
		t.Fatalf("RegisterMachineWithNetwork %s: %v: %s", name, err, out)
	}
}

// dhcpClient is a udhcpc running in a container namespace; its script
// configures the address and writes it to a file.
type dhcpClient struct {
	cmd   *exec.Cmd
	lease string
}

func startDHCPClient(t *testing.T, ctr *testbed.NetNS) *dhcpClient {
	t.Helper()
	dir := t.TempDir()
	c := &dhcpClient{lease: filepath.Join(dir, "lease")}
	script := `#!/bin/sh
case "$1" in
bound|renew) ip addr replace "$ip/$mask" dev "$interface"; ip route replace default via "$router"
	echo "$1 $ip" > ` + c.lease + ` ;;
esac
exit 0
`
	if err := os.WriteFile(filepath.Join(dir, "script"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c.cmd = ctr.Command(testbed.RequireTool(t, "udhcpc"), "-f", "-t", "20", "-T", "1", "-i", "host0", "-s", filepath.Join(dir, "script"))
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() })
	return c
}

// wait returns the address of the next bound or renew event.
func (c *dhcpClient) wait(t *testing.T, event string) string {
	t.Helper()
	var got string
	eventually(t, "udhcpc "+event, func() bool {
		b, _ := os.ReadFile(c.lease)
		ev, ip, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		got = ip
		return ev == event
	})
	return got
}

// serveIn answers every TCP connection to addr in ns with "hello".
func serveIn(t *testing.T, ns *testbed.NetNS, addr string) {
	ns.Serve(t, addr, func(string) string { return "hello" })
}

// dialUntil dials from ns until it connects or a generous deadline passes.
func dialUntil(ns *testbed.NetNS, addr string) (got string, err error) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got, err = ns.Dial(addr); err == nil {
			return got, nil
		}
	}
	return got, err
}

func berthCall(t *testing.T, bus *testbed.Bus, method string, out any, args ...any) {
	t.Helper()
	call := bus.Conn(t).Object(busName, machine1.ManagerPath).Call(dbusinterfaces.BerthManager+"."+method, 0, args...)
	if call.Err != nil {
		t.Fatalf("%s: %v", method, call.Err)
	}
	if out != nil {
		if err := call.Store(out); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
	}
}

func machineAddresses(t *testing.T, bus *testbed.Bus, name string) []string {
	t.Helper()
	var rows []struct {
		Family int32
		Addr   []byte
	}
	if err := bus.Conn(t).Object(busName, machine1.ManagerPath).Call(busName+".Manager.GetMachineAddresses", 0, name).Store(&rows); err != nil {
		t.Fatalf("GetMachineAddresses: %v", err)
	}
	var out []string
	for _, r := range rows {
		ip, _ := netipFrom(r.Addr)
		out = append(out, ip)
	}
	return out
}

func isIPv4(s string) bool { return !strings.Contains(s, ":") }

func netipFrom(b []byte) (string, bool) {
	if len(b) != 4 && len(b) != 16 {
		return "", false
	}
	return net.IP(b).String(), true
}
