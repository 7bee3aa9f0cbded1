package register_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/google/go-cmp/cmp"
)

// monitored is the part of a `busctl monitor --json=short` line we read.
type monitored struct {
	Member  string `json:"member"`
	Payload struct {
		Data []json.RawMessage `json:"data"`
	} `json:"payload"`
}

// monitorPolicy lets root monitor the test bus, as on a real system bus.
const monitorPolicy = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
</busconfig>
`

// TestIntegrationRegisterWithBerthd registers a container with berthd and
// reads the CreateMachineWithNetwork call off the bus with busctl monitor:
// the scope properties on the wire are the ones systemd-machined would
// receive from systemd-nspawn for the same options.
func TestIntegrationRegisterWithBerthd(t *testing.T) {
	testbed.RequireRoot(t)
	busctl := testbed.RequireTool(t, "busctl")
	policy := filepath.Join(t.TempDir(), "monitor.conf")
	if err := os.WriteFile(policy, []byte(monitorPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	b := testbed.StartBus(t, policy)
	testbed.StartBerthd(t, b, testbed.Paths(t))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	mon := exec.CommandContext(ctx, busctl, "--system", "monitor", "--json=short",
		"--match=type='method_call',member='CreateMachineWithNetwork'")
	mon.Env = []string{"PATH=/usr/bin:/bin", testbed.SystemBusEnv + "=" + b.Address}
	out, err := mon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mon.Process.Kill(); _ = mon.Wait() }()
	lines := make(chan monitored, 4)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m monitored
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Member == "CreateMachineWithNetwork" {
				lines <- m
			}
		}
	}()
	// busctl prints nothing until it monitors; a first registration that
	// reaches it proves it is listening.
	var call monitored
	for call.Member == "" {
		if got, code := run(t, b.Address, "-M", "t-berthd", "--bind-ro=/dev/null:/mnt/null", "--kill-signal=SIGUSR2", "/bin/true"); code != 0 {
			t.Fatalf("berth-nspawn: status %d: %s", code, got)
		}
		select {
		case call = <-lines:
		case <-time.After(time.Second):
		case <-ctx.Done():
			t.Fatal("busctl monitor saw no CreateMachineWithNetwork")
		}
	}
	if len(call.Payload.Data) != 8 {
		t.Fatalf("CreateMachineWithNetwork with %d arguments, want 8", len(call.Payload.Data))
	}
	var props [][]json.RawMessage
	if err := json.Unmarshal(call.Payload.Data[7], &props); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range props {
		var name string
		var value struct {
			Data json.RawMessage `json:"data"`
		}
		if len(p) != 2 || json.Unmarshal(p[0], &name) != nil || json.Unmarshal(p[1], &value) != nil {
			t.Fatalf("property %s is not (sv)", p)
		}
		if name == "Controller" {
			value.Data = json.RawMessage(`"ME"`)
		}
		got = append(got, name+"="+string(value.Data))
	}
	want := []string{
		`Controller="ME"`, `DevicePolicy="closed"`, `DeviceAllow=[["/dev/net/tun","rwm"],["char-pts","rw"]]`,
		`DeviceAllow=[["/dev/null","r"]]`, `KillSignal=12`, `KillMode="mixed"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scope properties on the wire (-want +got):\n%s", diff)
	}
}
