package machine1_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationSystemdNspawnRegisters runs the real systemd-nspawn with
// --register=yes against berthd, with --keep-unit (RegisterMachine) and
// without (CreateMachine): the container shows up in the real machinectl
// list and goes away when it is terminated.
func TestIntegrationSystemdNspawnRegisters(t *testing.T) {
	testbed.RequireRoot(t)
	nspawn := testbed.RequireTool(t, "systemd-nspawn")
	image := testbed.BusyboxImage(t)
	bus := testbed.StartBus(t)
	startBerthd(t, bus, t.TempDir())
	for _, tt := range []struct{ name, opt string }{{"register", "--keep-unit"}, {"create", "--private-network"}} {
		t.Run(tt.name, func(t *testing.T) { nspawnRegisters(t, bus, nspawn, image, tt.opt) })
	}
}

func nspawnRegisters(t *testing.T, bus *testbed.Bus, nspawn, image, opt string) {
	signals := watchSignals(t, bus)
	cmd := exec.Command(nspawn, "-q", "--register=yes", opt, "--console=pipe", "-D", image,
		"-M", "bbtest", "/bin/sleep", "1000000")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + os.Getenv(testbed.SystemBusEnv)}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("systemd-nspawn output:\n%s", out.String())
		}
	})

	signals.expect(t, "MachineNew bbtest")
	list := mustMachinectl(t, "list")
	if !strings.Contains(list, "bbtest") || !strings.Contains(list, "container systemd-nspawn") {
		t.Fatalf("machinectl list:\n%s\nnspawn output:\n%s", list, out.String())
	}
	conn := bus.Conn(t)
	var root string
	if err := conn.Object(busName, "/org/freedesktop/machine1/machine/bbtest").Call(
		"org.freedesktop.DBus.Properties.Get", 0, busName+".Machine", "RootDirectory").Store(&root); err != nil {
		t.Fatal(err)
	}
	if root != image {
		t.Errorf("RootDirectory = %q, want %q", root, image)
	}
	mustMachinectl(t, "terminate", "bbtest")
	signals.expect(t, "MachineRemoved bbtest")
	<-done
	var path dbus.ObjectPath
	err := conn.Object(busName, "/org/freedesktop/machine1").Call(busName+".Manager.GetMachine", 0, "bbtest").Store(&path)
	if err == nil {
		t.Errorf("bbtest still registered at %s", path)
	}
}

// TestIntegrationBerthNspawnRegisters runs berth's own spawner with
// --register=yes --keep-unit: the machine shows up in the real machinectl
// list, and machinectl shell reaches into it.
func TestIntegrationBerthNspawnRegisters(t *testing.T) {
	testbed.RequireRoot(t)
	image := testbed.BusyboxImage(t)
	bus := testbed.StartBus(t)
	startBerthd(t, bus, t.TempDir())
	startSpawner(t, bus, testbed.Binary(t, "berth-nspawn"), image, "berthbox", "/bin/sleep", "1000000")
	if out := mustMachinectl(t, "list"); !strings.Contains(out, "berthbox") {
		t.Fatalf("machinectl list:\n%s", out)
	}
	if out := mustMachinectl(t, "shell", "berthbox", "/bin/echo", "inside-berthbox"); !strings.Contains(out, "inside-berthbox") {
		t.Errorf("machinectl shell:\n%s", out)
	}
}
