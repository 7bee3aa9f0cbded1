package sysdbackend

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/buslabel"
	"github.com/berth-dev/berth/internal/dbuswire"
	"github.com/berth-dev/berth/internal/rawsock"
)

// unitPath is the object path of unit.
func unitPath(unit string) dbus.ObjectPath {
	return dbus.ObjectPath(unitPathPrefix + buslabel.Escape(unit))
}

// propertiesChanged returns a PropertiesChanged signal as systemd sends
// it for the object at path.
func propertiesChanged(t *testing.T, path dbus.ObjectPath, iface string, props map[string]dbus.Variant) []byte {
	t.Helper()
	return encodeMessage(t, dbus.TypeSignal, path, "PropertiesChanged", iface, props, []string{})
}

// execStatus is an element of a service's ExecStart property,
// a(sasbttttuii).
type execStatus struct {
	Path                             string
	Argv                             []string
	IgnoreFailure                    bool
	Start, StartMono, Exit, ExitMono uint64
	PID                              uint32
	Code, Status                     int32
}

// condition is an element of a unit's Conditions property, a(sbbsi).
type condition struct {
	Type            string
	Trigger, Negate bool
	Param           string
	State           int32
}

// unitProperties returns properties like those a unit's
// PropertiesChanged of the org.freedesktop.systemd1.Unit interface
// carries, about as many and of the kinds systemd sends (ExecStart, a
// service's, stands for its larger struct arrays), whose ActiveState is
// active.
func unitProperties(active string) map[string]dbus.Variant {
	props := map[string]dbus.Variant{
		"ActiveState": dbus.MakeVariant(active),
		"Job": dbus.MakeVariant(struct {
			ID   uint32
			Path dbus.ObjectPath
		}{0, "/"}),
		"InvocationID": dbus.MakeVariant([]byte("0123456789abcdef")),
		"LoadError":    dbus.MakeVariant(struct{ Name, Message string }{}),
		"Names":        dbus.MakeVariant([]string{"berth-machine@bb\\x2d1.service"}),
		"After":        dbus.MakeVariant([]string{"system-berth\\x2dmachine.slice", "network.target", "modprobe@tun.service"}),
		"Conditions": dbus.MakeVariant([]condition{
			{"ConditionPathExists", false, false, "/var/lib/berth", 1}, {"ConditionVirtualization", false, true, "container", 1}}),
		"ExecStart": dbus.MakeVariant([]execStatus{{Path: "/usr/bin/berth-nspawn",
			Argv: []string{"/usr/bin/berth-nspawn", "--quiet", "--keep-unit", "--boot", "--machine=bb-1"}, Start: 1764468000000000, StartMono: 81234567, PID: 4242}}),
	}
	for _, name := range []string{"Id", "Description", "LoadState", "SubState", "FreezerState", "FragmentPath", "SourcePath",
		"UnitFileState", "UnitFilePreset", "Following", "CollectMode", "OnFailureJobMode", "JobTimeoutAction"} {
		props[name] = dbus.MakeVariant("value of " + name)
	}
	for _, name := range []string{"StateChangeTimestamp", "InactiveExitTimestamp", "ActiveEnterTimestamp", "ActiveExitTimestamp",
		"InactiveEnterTimestamp", "ConditionTimestamp", "AssertTimestamp"} {
		props[name] = dbus.MakeVariant(uint64(1764468000123456))
		props[name+"Monotonic"] = dbus.MakeVariant(uint64(81234567))
	}
	for _, name := range []string{"CanStart", "CanStop", "CanReload", "CanIsolate", "Transient", "Perpetual",
		"ConditionResult", "AssertResult", "StopWhenUnneeded", "RefuseManualStart"} {
		props[name] = dbus.MakeVariant(true)
	}
	return props
}

// TestUnitChange reads PropertiesChanged signals of units as Watch
// receives them.
func TestUnitChange(t *testing.T) {
	const unitIface = "org.freedesktop.systemd1.Unit"
	active := func(s string) map[string]dbus.Variant {
		return map[string]dbus.Variant{"ActiveState": dbus.MakeVariant(s), "SubState": dbus.MakeVariant("x")}
	}
	bb := unitPath("berth-machine@bb.service")
	type result struct {
		Machine, State string
		OK             bool
	}
	tests := []struct {
		name string
		msg  []byte
		want result
	}{
		{"transient unit active", propertiesChanged(t, unitPath("berth-machine@bb-1.service"), unitIface, active("active")), result{"bb-1", "running", true}},
		{"boot unit activating", propertiesChanged(t, unitPath("berth-nspawn@web.service"), unitIface, active("activating")), result{"web", "opening", true}},
		{"unit gone", propertiesChanged(t, bb, unitIface, active("inactive")), result{"bb", "", true}},
		{"all of a unit's properties", propertiesChanged(t, bb, unitIface, unitProperties("deactivating")), result{"bb", "closing", true}},
		{"other unit", propertiesChanged(t, unitPath("modprobe@tun.service"), unitIface, active("active")), result{}},
		{"other interface", propertiesChanged(t, bb, "org.freedesktop.systemd1.Service", active("active")), result{}},
		{"no ActiveState", propertiesChanged(t, bb, unitIface, map[string]dbus.Variant{"SubState": dbus.MakeVariant("running")}), result{}},
		{"ActiveState not a string", propertiesChanged(t, bb, unitIface, map[string]dbus.Variant{"ActiveState": dbus.MakeVariant(uint32(1))}), result{}},
		{"not a unit object", propertiesChanged(t, "/org/freedesktop/systemd1/job/7", unitIface, active("active")), result{}},
		{"other signal", encodeMessage(t, dbus.TypeSignal, bb, "Changed", unitIface, active("active"), []string{}), result{}},
		{"short body", encodeMessage(t, dbus.TypeSignal, bb, "PropertiesChanged", unitIface), result{}},
		{"body of another type", encodeMessage(t, dbus.TypeSignal, bb, "PropertiesChanged", "x", "y"), result{}},
		{"reply", encodeMessage(t, dbus.TypeMethodReply, "", "", unitIface, active("active"), []string{}), result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, st, ok := unitChange(tt.msg)
			if diff := cmp.Diff(tt.want, result{m, st, ok}); diff != "" {
				t.Errorf("unitChange (-want +got):\n%s", diff)
			}
		})
	}
}

// rawChange returns a machine unit's PropertiesChanged signal with the
// properties props appends, as dbuswire encodes them.
func rawChange(t *testing.T, props func(e *dbuswire.Encoder)) []byte {
	t.Helper()
	var e dbuswire.Encoder
	e.Str("org.freedesktop.systemd1.Unit")
	a := e.StartArray(8)
	props(&e)
	e.EndArray(a)
	e.EndArray(e.StartArray(4))
	return rawSignal(t, e.Buf)
}

// rawSignal returns a machine unit's PropertiesChanged signal with body.
func rawSignal(t *testing.T, body []byte) []byte {
	t.Helper()
	h := dbuswire.Header{Type: dbuswire.TypeSignal, Serial: 1, Path: string(unitPath("berth-machine@bb.service")),
		Interface: "org.freedesktop.DBus.Properties", Member: "PropertiesChanged", Signature: "sa{sv}as", Sender: ":1.1"}
	msg, err := dbuswire.AppendHeader(nil, &h, len(body))
	if err != nil {
		t.Fatal(err)
	}
	return append(msg, body...)
}

// appendProp appends a property of an a{sv} whose value (of type sig) value
// appends.
func appendProp(e *dbuswire.Encoder, name, sig string, value func()) {
	e.Align(8)
	e.Str(name)
	e.Sig(sig)
	value()
}

// TestUnitChangeRejects reads broken PropertiesChanged signals of a
// machine unit: a malformed body is no change, even where ActiveState
// itself is whole.
func TestUnitChangeRejects(t *testing.T) {
	active := func(e *dbuswire.Encoder) { appendProp(e, "ActiveState", "s", func() { e.Str("active") }) }
	valid := rawChange(t, func(e *dbuswire.Encoder) {
		appendProp(e, "SubState", "s", func() { e.Str("running") })
		active(e)
		appendProp(e, "ActiveEnterTimestamp", "t", func() { e.Uint64(1) })
	})
	if m, st, ok := unitChange(valid); m != "bb" || st != "running" || !ok {
		t.Fatalf("unitChange of a valid change = %q, %q, %v", m, st, ok)
	}
	body := bodyOf(t, valid)
	tests := []struct {
		name string
		msg  []byte
	}{
		{"variant of type m before ActiveState", rawChange(t, func(e *dbuswire.Encoder) {
			appendProp(e, "SubState", "m", func() { e.Byte(1) })
			active(e)
		})},
		{"boolean 2 after ActiveState", rawChange(t, func(e *dbuswire.Encoder) {
			active(e)
			appendProp(e, "CanStart", "b", func() { e.Uint32(2) })
		})},
		{"ActiveState again, not a string", rawChange(t, func(e *dbuswire.Encoder) {
			active(e)
			appendProp(e, "ActiveState", "u", func() { e.Uint32(1) })
		})},
		{"bytes after the body", rawSignal(t, append(slices.Clone(body), 0, 0, 0, 0))},
	}
	for i := range len(body) {
		tests = append(tests, struct {
			name string
			msg  []byte
		}{fmt.Sprintf("body cut to %d of %d bytes", i, len(body)), rawSignal(t, body[:i])})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, st, ok := unitChange(tt.msg); ok {
				t.Errorf("unitChange = %q, %q, true; want not ok", m, st)
			}
		})
	}
}

// bodyOf returns the body of msg.
func bodyOf(t *testing.T, msg []byte) []byte {
	t.Helper()
	m, err := dbuswire.Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	return m.Body
}

// TestUnitChangeAllocs checks that reading a unit's change allocates
// only the machine's name (godbus built a map of all the properties).
func TestUnitChangeAllocs(t *testing.T) {
	msg := propertiesChanged(t, unitPath("berth-machine@bb-1.service"), "org.freedesktop.systemd1.Unit", unitProperties("active"))
	if n := testing.AllocsPerRun(100, func() { unitChange(msg) }); n > 1 {
		t.Errorf("%v allocations per unitChange, want at most 1", n)
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

// change is a call of Watch's changed.
type change struct{ Machine, State string }

// TestWatchKeep checks which messages Watch's connection hands godbus
// (all but the signals of units) and which changes it reports.
func TestWatchKeep(t *testing.T) {
	props := map[string]dbus.Variant{"ActiveState": dbus.MakeVariant("active")}
	tests := []struct {
		name    string
		msg     []byte
		keep    bool
		changes []change
	}{
		{"machine unit", propertiesChanged(t, unitPath("berth-machine@bb-1.service"), "org.freedesktop.systemd1.Unit", props), false, []change{{"bb-1", "running"}}},
		{"boot unit", propertiesChanged(t, unitPath("berth-nspawn@web.service"), "org.freedesktop.systemd1.Unit", props), false, []change{{"web", "running"}}},
		{"machine unit, no ActiveState", propertiesChanged(t, unitPath("berth-nspawn@web.service"), "org.freedesktop.systemd1.Unit", nil), false, nil},
		{"other unit", propertiesChanged(t, unitPath("sys-subsystem-net-devices-ve\\x2dbb.device"), "org.freedesktop.systemd1.Unit", props), false, nil},
		{"other object", encodeMessage(t, dbus.TypeSignal, "/org/freedesktop/DBus", "NameAcquired", ":1.7"), true, nil},
		{"reply", encodeMessage(t, dbus.TypeMethodReply, "", ""), true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []change
			keep := watchKeep(func(machine, state string) { got = append(got, change{machine, state}) })
			if k := keep(tt.msg); k != tt.keep {
				t.Errorf("keep = %v, want %v", k, tt.keep)
			}
			if diff := cmp.Diff(tt.changes, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBusStreamDrops reads, after the SASL exchange, only the messages
// Watch's keep hands godbus, whole and in order, as godbus decodes them,
// and reports the changes of the machine units' signals it keeps from
// godbus, read into the buffer of the next message.
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
	var changes []change
	s := newBusStream(raw, watchKeep(func(machine, state string) { changes = append(changes, change{machine, state}) }))
	defer s.Close()
	active := func(s string) map[string]dbus.Variant {
		return map[string]dbus.Variant{"ActiveState": dbus.MakeVariant(s)}
	}
	const unitIface = "org.freedesktop.systemd1.Unit"
	other := propertiesChanged(t, unitPath("a.service"), unitIface, active("active"))
	bb := propertiesChanged(t, unitPath("berth-machine@bb-1.service"), unitIface, active("activating"))
	cc := propertiesChanged(t, unitPath("berth-machine@cc-2.service"), unitIface, active("active"))
	mine := encodeMessage(t, dbus.TypeSignal, "/org/freedesktop/DBus", "NameAcquired", "y")
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
	if _, err := peer.Write(slices.Concat(other, bb, mine, other, cc, mine)); err != nil {
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
	if diff := cmp.Diff([]change{{"bb-1", "opening"}, {"cc-2", "running"}}, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
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
