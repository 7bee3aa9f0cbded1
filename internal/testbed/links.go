package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dialTimeout bounds one Dial (a hang guard only).
const dialTimeout = 10 * time.Second

// Veth adds a veth pair, name in n and its peer peerName in peer, and
// brings the peer side up; name stays down, as a spawner leaves a
// host-side link. It returns the interface index of name.
func (n *NetNS) Veth(t testing.TB, name string, peer *NetNS, peerName string) int {
	t.Helper()
	n.Exec(t, "ip", "link", "add", name, "type", "veth", "peer", "name", peerName, "netns", peer.Name)
	peer.Exec(t, "ip", "link", "set", peerName, "up")
	index, err := strconv.Atoi(strings.TrimSpace(n.Exec(t, "cat", "/sys/class/net/"+name+"/ifindex")))
	if err != nil {
		t.Fatalf("index of %s: %v", name, err)
	}
	return index
}

// Uplink is a fake uplink: a namespace of its own joined to a host
// namespace by a veth, with documentation addresses (RFC 5737, RFC 3849)
// on both ends and no route from the uplink back to anything behind the
// host, so only NAT'd traffic gets answers.
type Uplink struct {
	// NS is the uplink namespace; its side of the veth is eth0.
	NS *NetNS
	// HostIf is the host side's link name.
	HostIf string
	// Host4 and Host6 are the host side's addresses; Peer4 and Peer6 the
	// uplink side's.
	Host4, Host6, Peer4, Peer6 netip.Addr
}

// NewUplink adds an uplink to host: up0 in host (198.51.100.1/24,
// 2001:db8::1/64) to eth0 in a new namespace (198.51.100.2/24,
// 2001:db8::2/64), both up, without duplicate address detection.
func NewUplink(t testing.TB, host *NetNS) *Uplink {
	t.Helper()
	u := &Uplink{NS: NewNetNS(t), HostIf: "up0",
		Host4: netip.MustParseAddr("198.51.100.1"), Host6: netip.MustParseAddr("2001:db8::1"),
		Peer4: netip.MustParseAddr("198.51.100.2"), Peer6: netip.MustParseAddr("2001:db8::2")}
	host.Veth(t, u.HostIf, u.NS, "eth0")
	for _, a := range []struct {
		ns   *NetNS
		dev  string
		addr netip.Addr
	}{{host, u.HostIf, u.Host4}, {host, u.HostIf, u.Host6}, {u.NS, "eth0", u.Peer4}, {u.NS, "eth0", u.Peer6}} {
		bits := 24
		if a.addr.Is6() {
			bits = 64
		}
		a.ns.Exec(t, "ip", "addr", "add", netip.PrefixFrom(a.addr, bits).String(), "dev", a.dev, "nodad")
	}
	host.Exec(t, "ip", "link", "set", u.HostIf, "up")
	return u
}

// Dial connects over TCP from n to addr and returns everything the server
// sent before closing the connection.
func (n *NetNS) Dial(addr string) (string, error) {
	var got string
	err := n.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
		defer cancel()
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(dialTimeout))
		b, err := io.ReadAll(c)
		got = string(b)
		return err
	})
	if err != nil {
		return got, fmt.Errorf("dial %s from %s: %w", addr, n.Name, err)
	}
	return got, nil
}

// NetNS returns berthd's network namespace (the one StartBerthd made for
// it) under a name of its own for the rest of t, so that tests run
// containers and add links next to berthd.
func (d *Berthd) NetNS(t testing.TB) *NetNS {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	n := &NetNS{Name: "berth-test-" + hex.EncodeToString(b[:])}
	n.Path = "/run/netns/" + n.Name
	ip := RequireTool(t, "ip")
	if out, err := exec.Command(ip, "netns", "attach", n.Name, strconv.Itoa(d.cmd.Process.Pid)).CombinedOutput(); err != nil {
		t.Fatalf("ip netns attach: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", n.Name).Run() })
	return n
}
