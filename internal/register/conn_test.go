package register

import (
	"bytes"
	"encoding/binary"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/dbuswire"
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

// TestHandshakeRefused checks that the refused authentication is what
// Register reports, also when OnRequestStop already sent its subscription
// (before the bus answered the handshake).
func TestHandshakeRefused(t *testing.T) {
	addr := refusingBus(t)
	for _, subscribe := range []bool{false, true} {
		c, err := DialAddress(addr, "svc")
		if err != nil {
			t.Fatalf("DialAddress: %v (the refusal comes with the first call)", err)
		}
		if subscribe {
			c.OnRequestStop(func() { t.Error("stop requested") })
		}
		err = c.Register(spawn.Machine{Name: "m"})
		if err == nil || !strings.Contains(err.Error(), "authenticate") {
			t.Errorf("subscribed %v: Register = %v, want the refused authentication", subscribe, err)
		}
		if got := c.UniqueName(); got != "" {
			t.Errorf("UniqueName = %q, want none", got)
		}
		c.Close()
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

// TestRepliesFromGodbus reads the name, path or error message of replies
// and signals godbus encodes.
func TestRepliesFromGodbus(t *testing.T) {
	reply := &dbus.Message{Type: dbus.TypeMethodReply, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldReplySerial: dbus.MakeVariant(uint32(3)),
		dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf(dbus.ObjectPath(""))),
	}, Body: []any{dbus.ObjectPath("/org/freedesktop/machine1/machine/m1")}}
	errReply := &dbus.Message{Type: dbus.TypeError, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldReplySerial: dbus.MakeVariant(uint32(4)),
		dbus.FieldErrorName:   dbus.MakeVariant("org.freedesktop.DBus.Error.ServiceUnknown"),
		dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf("")),
	}, Body: []any{"The name is not activatable"}}
	signal := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:      dbus.MakeVariant(dbus.ObjectPath("/org/freedesktop/systemd1/unit/m_2escope")),
		dbus.FieldInterface: dbus.MakeVariant(scopeIface),
		dbus.FieldMember:    dbus.MakeVariant(requestStop),
	}}
	for _, tc := range []struct {
		name      string
		m         *dbus.Message
		wantFirst string
		wantErr   string
	}{
		{"reply", reply, "/org/freedesktop/machine1/machine/m1", ""},
		{"error", errReply, "The name is not activatable", "The name is not activatable"},
		{"signal", signal, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.m.EncodeTo(&b, binary.LittleEndian); err != nil {
				t.Fatal(err)
			}
			m, err := dbuswire.Parse(b.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			got := []string{"", ""}
			got[0], _ = firstString(&m)
			if err := replyError(&m); err != nil {
				got[1] = err.Error()
			}
			if diff := cmp.Diff([]string{tc.wantFirst, tc.wantErr}, got); diff != "" {
				t.Errorf("first string, error (-want +got):\n%s", diff)
			}
		})
	}
}
