package dhcpserver

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationCloseWakesRead checks that Close ends a ReadFrom blocked
// on an idle link: the socket has no read timeout to fall back on.
func TestIntegrationCloseWakesRead(t *testing.T) {
	testbed.RequireRoot(t)
	host, ctr := testbed.NewNetNS(t), testbed.NewNetNS(t)
	host.Veth(t, "ve-test", ctr, "host0")
	var conn net.PacketConn
	if err := host.Do(func() (err error) { conn, err = ListenLink("ve-test"); return err }); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := conn.ReadFrom(make([]byte, 1500))
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond) // lets the read block (not a limit: it only delays Close)
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadFrom after Close: %v, want net.ErrClosed", err)
	}
}
