package testbed

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os/exec"
	"runtime"
	"testing"

	"github.com/vishvananda/netns"
)

// NetNS is a throwaway named network namespace.
type NetNS struct {
	// Name is the name under /run/netns.
	Name string
	// Path is the namespace file, usable with setns and --network-namespace-path.
	Path string
}

// NewNetNS creates a network namespace with only a loopback link (brought
// up) and deletes it when t ends.
func NewNetNS(t testing.TB) *NetNS {
	t.Helper()
	RequireRoot(t)
	ip := RequireTool(t, "ip")
	var b [4]byte
	_, _ = rand.Read(b[:])
	n := &NetNS{Name: "berth-test-" + hex.EncodeToString(b[:])}
	n.Path = "/run/netns/" + n.Name
	if out, err := exec.Command(ip, "netns", "add", n.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", n.Name).Run() })
	n.Exec(t, "ip", "link", "set", "lo", "up")
	return n
}

// Exec runs a command inside n and returns its combined output; a failure
// fails t.
func (n *NetNS) Exec(t testing.TB, args ...string) string {
	t.Helper()
	out, err := n.Command(args...).CombinedOutput()
	if err != nil {
		t.Fatalf("in netns %s: %v: %v\n%s", n.Name, args, err, out)
	}
	return string(out)
}

// Command returns an unstarted command that runs args inside n.
func (n *NetNS) Command(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

// Do runs fn on an OS thread switched into n. The thread is retired after
// fn, so no other goroutine ever runs in n by accident.
func (n *NetNS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		h, err := netns.GetFromPath(n.Path)
		if err != nil {
			errc <- err
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Serve listens on the TCP address addr inside n until t ends and answers
// every connection with reply(the peer's host address), then closes it.
func (n *NetNS) Serve(t testing.TB, addr string, reply func(peer string) string) {
	t.Helper()
	var ln net.Listener
	if err := n.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			_, _ = io.WriteString(c, reply(host))
			c.Close()
		}
	}()
}

// EchoPeer is a Serve reply that answers with the peer's address.
func EchoPeer(peer string) string { return peer }
