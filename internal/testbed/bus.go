package testbed

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// SystemBusEnv is the variable libdbus, sd-bus and godbus read the system
// bus address from.
const SystemBusEnv = "DBUS_SYSTEM_BUS_ADDRESS"

// PolicyFile is the project's bus policy, relative to the repository root.
const PolicyFile = "units/dbus/system.d/org.freedesktop.machine1.conf"

// Bus is a private dbus-daemon configured like a system bus.
type Bus struct {
	// Address is the bus address, also exported as DBUS_SYSTEM_BUS_ADDRESS.
	Address string
	// Socket is the path of the bus socket.
	Socket string
}

// StartBus starts a private dbus-daemon whose configuration is the system
// bus's default deny policy plus the project's own policy file and any
// extra policy files given. It sets DBUS_SYSTEM_BUS_ADDRESS for the rest of
// t (so t must not be parallel) and stops the daemon when t ends.
func StartBus(t testing.TB, extraPolicies ...string) *Bus {
	t.Helper()
	daemon := RequireTool(t, "dbus-daemon")
	dir := worldDir(t)
	b := &Bus{Socket: filepath.Join(dir, "system_bus_socket")}
	includes := append([]string{filepath.Join(RepoRoot(t), PolicyFile)}, extraPolicies...)
	conf := filepath.Join(dir, "system.conf")
	if err := os.WriteFile(conf, []byte(BusConfig(b.Socket, includes)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+conf, "--nofork", "--nopidfile", "--print-address=1")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	b.Address = strings.TrimSpace(line)
	t.Setenv(SystemBusEnv, b.Address)
	return b
}

// worldDir makes a temp directory other users can traverse, so
// unprivileged clients (tests run them with setpriv) can reach the socket.
func worldDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "berth-bus-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Conn opens a new private connection to b as the test's own user and
// closes it when t ends.
func (b *Bus) Conn(t testing.TB) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(b.Address)
	if err != nil {
		t.Fatalf("connect to test bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// WaitName waits until name has an owner on b, or fails t after timeout.
// It polls: the bus has no other way to wait for a name that may already
// be owned.
func (b *Bus) WaitName(t testing.TB, name string, timeout time.Duration) {
	t.Helper()
	conn := b.Conn(t)
	deadline := time.Now().Add(timeout)
	for {
		var has bool
		err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
		if err == nil && has {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bus name %s never appeared (last error: %v)", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BusConfig returns a dbus-daemon configuration equivalent to Debian's
// system bus listening on socket: everything denied by default, replies
// and signals allowed, and the given policy files included. The demo uses
// it too.
func BusConfig(socket string, includes []string) string {
	var inc strings.Builder
	for _, f := range includes {
		fmt.Fprintf(&inc, "  <include>%s</include>\n", f)
	}
	return fmt.Sprintf(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Peer"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Debug.Stats"/>
  </policy>
%s  <limit name="max_connections_per_user">4096</limit>
  <limit name="max_pending_service_starts">4096</limit>
  <limit name="max_replies_per_connection">8192</limit>
</busconfig>
`, socket, inc.String())
}
