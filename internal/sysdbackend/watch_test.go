package sysdbackend

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"slices"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/buslabel"
	"github.com/berth-dev/berth/internal/rawsock"
)

// TestUnitChange reads PropertiesChanged signals of units as Watch
// receives them.
func TestUnitChange(t *testing.T) {
	unitPath := func(unit string) dbus.ObjectPath { return dbus.ObjectPath(unitPathPrefix + buslabel.Escape(unit)) }
	changed := func(path dbus.ObjectPath, props map[string]dbus.Variant) *dbus.Signal {
		return &dbus.Signal{Path: path, Name: "org.freedesktop.DBus.Properties.PropertiesChanged",
			Body: []any{"org.freedesktop.systemd1.Unit", props, []string{}}}
	}
	active := func(s string) map[string]dbus.Variant {
		return map[string]dbus.Variant{"ActiveState": dbus.MakeVariant(s), "SubState": dbus.MakeVariant("x")}
	}
	type result struct {
		Machine, State string
		OK             bool
	}
	tests := []struct {
		name string
		sig  *dbus.Signal
		want result
	}{
		{"transient unit active", changed(unitPath("berth-machine@bb-1.service"), active("active")), result{"bb-1", "running", true}},
		{"boot unit activating", changed(unitPath("berth-nspawn@web.service"), active("activating")), result{"web", "opening", true}},
		{"unit gone", changed(unitPath("berth-machine@bb.service"), active("inactive")), result{"bb", "", true}},
		{"other unit", changed(unitPath("modprobe@tun.service"), active("active")), result{}},
		{"no ActiveState", changed(unitPath("berth-machine@bb.service"), map[string]dbus.Variant{"SubState": dbus.MakeVariant("running")}), result{}},
		{"ActiveState not a string", changed(unitPath("berth-machine@bb.service"), map[string]dbus.Variant{"ActiveState": dbus.MakeVariant(uint32(1))}), result{}},
		{"not a unit object", changed("/org/freedesktop/systemd1/job/7", active("active")), result{}},
		{"short body", &dbus.Signal{Path: unitPath("berth-machine@bb.service"), Body: []any{"org.freedesktop.systemd1.Unit"}}, result{}},
		{"body of another type", &dbus.Signal{Path: unitPath("berth-machine@bb.service"), Body: []any{"x", "y"}}, result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, st, ok := unitChange(tt.sig)
			if diff := cmp.Diff(tt.want, result{m, st, ok}); diff != "" {
				t.Errorf("unitChange (-want +got):\n%s", diff)
			}
		})
	}
}

// encodeMessage returns a message as godbus writes it.
func encodeMessage(t *testing.T, typ dbus.Type, path dbus.ObjectPath, member string, body ...any) []byte {
	t.Helper()
	m := &dbus.Message{Type: typ, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldSender: dbus.MakeVariant(":1.1"), dbus.FieldSignature: dbus.MakeVariant(dbus.SignatureOf(body...)),
	}, Body: body}
	switch typ {
	case dbus.TypeSignal:
		m.Headers[dbus.FieldPath] = dbus.MakeVariant(path)
		m.Headers[dbus.FieldInterface] = dbus.MakeVariant("org.freedesktop.DBus.Properties")
		m.Headers[dbus.FieldMember] = dbus.MakeVariant(member)
	case dbus.TypeMethodReply:
		m.Headers[dbus.FieldReplySerial] = dbus.MakeVariant(uint32(2))
	}
	var b bytes.Buffer
	if err := m.EncodeTo(&b, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestWanted checks which messages Watch's connection decodes: all but
// the signals of units that are not machine units.
func TestWanted(t *testing.T) {
	unitPath := func(unit string) dbus.ObjectPath { return dbus.ObjectPath(unitPathPrefix + buslabel.Escape(unit)) }
	props := map[string]dbus.Variant{"ActiveState": dbus.MakeVariant("active")}
	tests := []struct {
		name string
		msg  []byte
		want bool
	}{
		{"machine unit", encodeMessage(t, dbus.TypeSignal, unitPath("berth-machine@bb-1.service"), "PropertiesChanged", "org.freedesktop.systemd1.Unit", props, []string{}), true},
		{"boot unit", encodeMessage(t, dbus.TypeSignal, unitPath("berth-nspawn@web.service"), "PropertiesChanged", "org.freedesktop.systemd1.Unit", props, []string{}), true},
		{"other unit", encodeMessage(t, dbus.TypeSignal, unitPath("sys-subsystem-net-devices-ve\\x2dbb.device"), "PropertiesChanged", "org.freedesktop.systemd1.Unit", props, []string{}), false},
		{"other object", encodeMessage(t, dbus.TypeSignal, "/org/freedesktop/DBus", "NameAcquired", ":1.7"), true},
		{"reply", encodeMessage(t, dbus.TypeMethodReply, "", ""), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wanted(tt.msg); got != tt.want {
				t.Errorf("wanted = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestBusStreamDrops reads, after the SASL exchange, only the messages
// keep wants, whole and in order, as godbus decodes them.
func TestBusStreamDrops(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	peer := os.NewFile(uintptr(fds[1]), "peer")
	defer peer.Close()
	raw, err := rawsock.New(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	s := newBusStream(raw, wanted)
	defer s.Close()
	other := encodeMessage(t, dbus.TypeSignal, unitPathPrefix+"a_2eservice", "PropertiesChanged", "x")
	mine := encodeMessage(t, dbus.TypeSignal, dbus.ObjectPath(unitPathPrefix+buslabel.Escape("berth-machine@bb.service")), "PropertiesChanged", "y")
	if _, err := peer.Write([]byte("OK 1234\r\n")); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 9)
	if _, err := io.ReadFull(s, line); err != nil || string(line) != "OK 1234\r\n" {
		t.Fatalf("read %q, %v before BEGIN", line, err)
	}
	if _, err := s.Write([]byte("BEGIN\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Write(slices.Concat(other, other, mine, other, mine)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		m, err := dbus.DecodeMessage(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Body; !cmp.Equal(got, []any{"y"}) {
			t.Errorf("message %d: body %v, want [y]", i, got)
		}
	}
}

// TestRunningEndsStartWait checks the starts' waits that Watch ends when
// it sees their machine run.
func TestRunningEndsStartWait(t *testing.T) {
	var b Backend
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	a1, stopA1 := b.awaitRunning("a")
	a2, stopA2 := b.awaitRunning("a")
	other, stopOther := b.awaitRunning("b")
	stopA2()
	b.running("a")
	if !closed(a1) || closed(a2) || closed(other) {
		t.Errorf("after a runs: a1 ended %v (want true), a2 ended %v, b ended %v (want false)", closed(a1), closed(a2), closed(other))
	}
	stopA1() // after its end: a no-op
	stopOther()
	if len(b.starts) != 0 {
		t.Errorf("waits left: %v", b.starts)
	}
	job := make(chan string, 1)
	if err := wait(context.Background(), "start", job, a1); err != nil {
		t.Errorf("wait with the machine running: %v", err)
	}
	job <- "failed"
	if err := wait(context.Background(), "start", job, nil); !errors.Is(err, ErrJob) {
		t.Errorf("wait for a failed job = %v, want ErrJob", err)
	}
}
