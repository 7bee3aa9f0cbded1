package radv

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

func TestIntegrationSLAAC(t *testing.T) {
	testbed.RequireRoot(t)
	host, ctr := testbed.NewNetNS(t), testbed.NewNetNS(t)
	host.Veth(t, "ve-ra", ctr, "host0")
	host.Exec(t, "sysctl", "-qw", "net.ipv6.conf.ve-ra.accept_dad=0")
	host.Exec(t, "ip", "addr", "add", "fd00:1::1/64", "dev", "ve-ra", "nodad")
	host.Exec(t, "ip", "link", "set", "ve-ra", "up")
	var c *Conn
	if err := host.Do(func() (err error) {
		ifi, err := net.InterfaceByName("ve-ra")
		if err != nil {
			return err
		}
		c, err = Listen(ifi)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- c.Serve(Config{Prefix: netip.MustParsePrefix("fd00:1::/64")}) }()
	t.Cleanup(func() {
		c.Close()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		addrs := ctr.Exec(t, "ip", "-6", "addr", "show", "dev", "host0", "scope", "global")
		routes := ctr.Exec(t, "ip", "-6", "route", "show", "default")
		if strings.Contains(addrs, "fd00:1:") && !strings.Contains(addrs, "tentative") && strings.Contains(routes, "via fe80::") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SLAAC address or default route:\n%s\n%s", addrs, routes)
		}
	}
	ctr.Exec(t, "busybox", "ping", "-6", "-c", "1", "-W", "5", "fd00:1::1")
}
