package register_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/nspawnopts"
	"github.com/berth-dev/berth/internal/spawn"
	"github.com/berth-dev/berth/internal/testbed"
	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

// systemdPolicy lets root own org.freedesktop.systemd1 on a test bus.
const systemdPolicy = "/usr/share/dbus-1/system.d/org.freedesktop.systemd1.conf"

func TestIntegrationAllowDevices(t *testing.T) {
	testbed.RequireRoot(t)
	b := testbed.StartBus(t)
	m := startManager(t, b)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		binds []nspawnopts.Bind
		want  []string
	}{
		{"none", nil, nil},
		{"character device", []nspawnopts.Bind{{Source: "/dev/null", Dest: "/mnt/null"}}, []string{"DeviceAllow=[[/dev/null rw]]"}},
		{"read-only device", []nspawnopts.Bind{{Source: "/dev/zero", Dest: "/z", ReadOnly: true}}, []string{"DeviceAllow=[[/dev/zero r]]"}},
		{"file, missing source, temp dir and +SRC", []nspawnopts.Bind{
			{Source: file, Dest: "/f"}, {Source: "/nonexistent/dev", Dest: "/n"}, {Dest: "/tmpdir"},
			{Source: "/dev/null", SourceInRoot: true, Dest: "/inroot"},
		}, nil},
		{"two devices", []nspawnopts.Bind{{Source: "/dev/null", Dest: "/a"}, {Source: file, Dest: "/f"}, {Source: "/dev/full", Dest: "/b", ReadOnly: true}},
			[]string{"DeviceAllow=[[/dev/null rw]]", "DeviceAllow=[[/dev/full r]]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, b)
			if err := c.AllowDevices(tc.binds); err != nil {
				t.Fatal(err)
			}
			if err := c.Register(spawn.Machine{Name: "dev", Leader: 42, Directory: "/srv/dev"}); err != nil {
				t.Fatal(err)
			}
			want := append(baseProps[:3:3], tc.want...)
			if diff := cmp.Diff(want, next(t, m).Props); diff != "" {
				t.Errorf("properties (-want +got):\n%s", diff)
			}
		})
	}
}

// sendRequestStop sends systemd's RequestStop signal from conn to dest,
// as systemd sends it to a scope's controller, and returns once the bus
// has routed it (a call to the bus from the same connection comes back
// after it).
func sendRequestStop(t *testing.T, conn *dbus.Conn, dest string) {
	t.Helper()
	msg := &dbus.Message{
		Type: dbus.TypeSignal,
		Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldPath:        dbus.MakeVariant(dbus.ObjectPath("/org/freedesktop/systemd1/unit/machine_2dstop_2escope")),
			dbus.FieldInterface:   dbus.MakeVariant("org.freedesktop.systemd1.Scope"),
			dbus.FieldMember:      dbus.MakeVariant("RequestStop"),
			dbus.FieldDestination: dbus.MakeVariant(dest),
		},
	}
	if call := conn.Send(msg, nil); call.Err != nil {
		t.Fatal(call.Err)
	}
	var id string
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetId", 0).Store(&id); err != nil {
		t.Fatal(err)
	}
}

// ownSystemd makes conn the owner of systemd's bus name.
func ownSystemd(t *testing.T, conn *dbus.Conn) {
	t.Helper()
	reply, err := conn.RequestName("org.freedesktop.systemd1", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own org.freedesktop.systemd1: %v %v", reply, err)
	}
}

func TestIntegrationRequestStop(t *testing.T) {
	testbed.RequireRoot(t)
	b := testbed.StartBus(t, systemdPolicy)
	startManager(t, b)
	stops := make(chan struct{}, 4)
	c := dial(t, b)
	c.OnRequestStop(func() { stops <- struct{}{} })
	if err := c.Register(spawn.Machine{Name: "stop", Leader: 42, Directory: "/srv/stop"}); err != nil {
		t.Fatal(err)
	}
	self := c.UniqueName()
	// Anybody may send a signal to the spawner's connection: only the
	// owner of systemd's name is obeyed.
	sendRequestStop(t, b.Conn(t), self)
	systemd := b.Conn(t)
	ownSystemd(t, systemd)
	sendRequestStop(t, systemd, self)
	select {
	case <-stops:
	case <-time.After(30 * time.Second):
		t.Fatal("RequestStop from systemd was not handled")
	}
	// The impostor's signal was routed first, so it was handled first.
	if n := len(stops); n != 0 {
		t.Errorf("%d more stop requests handled, want only systemd's", n)
	}
}

// TestIntegrationRequestStopForwarded stops a running container the way
// systemd stops its scope: RequestStop to the Controller the spawner
// registered, which berth-nspawn forwards as the kill signal.
func TestIntegrationRequestStopForwarded(t *testing.T) {
	testbed.RequireRoot(t)
	b := testbed.StartBus(t, systemdPolicy)
	m := startManager(t, b)
	systemd := b.Conn(t)
	ownSystemd(t, systemd)
	img := testbed.BusyboxImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testbed.Binary(t, "berth-nspawn"), "-q", "-P", "-D", img, "-M", "t-stop",
		"--kill-signal=SIGUSR1", "/bin/sh", "-c", "trap 'exit 7' USR1; echo up; sleep 1000 & wait")
	cmd.Env = []string{"PATH=/usr/bin:/bin", testbed.SystemBusEnv + "=" + b.Address}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if got := next(t, m); !slices.Contains(got.Props, "Controller=SENDER") {
		t.Fatalf("properties %v: want the spawner's own connection as Controller", got.Props)
	}
	sender := <-m.senders
	// The kill signal reaches the shell once its trap is set; until then
	// PID 1 ignores it, so ask until the container ends.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		sendRequestStop(t, systemd, sender)
		select {
		case <-done:
			if code := cmd.ProcessState.ExitCode(); code != 7 {
				t.Errorf("berth-nspawn exited %d, want 7 (the payload's trap of the kill signal)", code)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}
