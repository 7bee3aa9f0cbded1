package register

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/spawn"
)

// refusingBus listens on a socket that answers every client's handshake
// with a rejection, and returns its address.
func refusingBus(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bus")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Read(make([]byte, 4096)) // the handshake
			_, _ = c.Write([]byte("REJECTED EXTERNAL\r\n"))
			c.Close()
		}
	}()
	return "unix:path=" + path
}

func TestHandshakeRefused(t *testing.T) {
	addr := refusingBus(t)
	c, err := DialAddress(addr, "svc")
	if err != nil {
		t.Fatalf("DialAddress: %v (the refusal comes with the first call)", err)
	}
	defer c.Close()
	err = c.Register(spawn.Machine{Name: "m"})
	if err == nil || !strings.Contains(err.Error(), "authenticate") {
		t.Errorf("Register = %v, want the refused authentication", err)
	}
	if got := c.UniqueName(); got != "" {
		t.Errorf("UniqueName = %q, want none", got)
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", addr)
	if c, err := Dial(ModeAuto); c != nil || err != nil {
		t.Errorf("Dial(auto) = %v, %v; want no client and no error", c, err)
	}
}

func TestDialNoBus(t *testing.T) {
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "none"))
	if c, err := Dial(ModeAuto); c != nil || err != nil {
		t.Errorf("Dial(auto) = %v, %v; want no client and no error", c, err)
	}
	if _, err := Dial(ModeYes); err == nil || !strings.Contains(err.Error(), "cannot connect to the system bus") {
		t.Errorf("Dial(yes) = %v, want the missing bus", err)
	}
	if c, err := Dial(ModeNo); c != nil || err != nil {
		t.Errorf("Dial(no) = %v, %v; want nothing", c, err)
	}
}
