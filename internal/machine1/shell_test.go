package machine1_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/rootfs"
	"github.com/berth-dev/berth/internal/testbed"
)

// startNspawn boots a busybox container with the real systemd-nspawn,
// registered with berthd, running cmd as its PID 1.
func startNspawn(t *testing.T, bus *testbed.Bus, image, name string, cmd ...string) {
	t.Helper()
	startSpawner(t, bus, testbed.RequireTool(t, "systemd-nspawn"), image, name, cmd...)
}

// startSpawner is startNspawn with the spawner program at bin.
func startSpawner(t *testing.T, bus *testbed.Bus, bin, image, name string, cmd ...string) {
	t.Helper()
	signals := watchSignals(t, bus)
	args := append([]string{"-q", "--register=yes", "--keep-unit", "--console=pipe", "-D", image, "-M", name}, cmd...)
	c := exec.Command(bin, args...)
	c.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + os.Getenv(testbed.SystemBusEnv)}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	conn := bus.Conn(t)
	t.Cleanup(func() {
		_ = conn.Object(busName, "/org/freedesktop/machine1").Call(mgr+"KillMachine", 0, name, "all", int32(9)).Err
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-done
		// A killed spawner cannot take its propagation directory away.
		rootfs.RemovePropagation(filepath.Join(paths.Default().Run, "propagate", name))
		if t.Failed() {
			t.Logf("%s output:\n%s", bin, out.String())
		}
	})
	signals.expect(t, "MachineNew "+name)
}

// TestIntegrationMachinectlShell runs the real `machinectl shell` and
// `machinectl login` against a busybox container that has neither
// systemd nor D-Bus inside: berthd enters its namespaces directly.
func TestIntegrationMachinectlShell(t *testing.T) {
	testbed.RequireRoot(t)
	testbed.RequireTool(t, "nsenter")
	image := testbed.BusyboxImage(t)
	if err := os.WriteFile(filepath.Join(image, "marker"), []byte("inside-marker\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bus := testbed.StartBus(t)
	startBerthd(t, bus, t.TempDir())
	startNspawn(t, bus, image, "shelly", "/bin/sleep", "1000000")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"program with args", []string{"shell", "shelly", "/bin/cat", "/marker"}, []string{"inside-marker"}},
		{"pid namespace and user", []string{"shell", "shelly", "/bin/sh", "-c", "echo pid=$$ uid=$(id -u) term=$TERM"},
			[]string{"uid=0", "term="}},
		{"setenv", []string{"shell", "-E", "GREETING=hello-there", "shelly", "/bin/sh", "-c", "echo $GREETING"}, []string{"hello-there"}},
		{"user@", []string{"shell", "nobody@shelly", "/bin/sh", "-c", "id -u"}, []string{"65534"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mustMachinectl(t, tt.args...)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("machinectl %s lacks %q:\n%s", strings.Join(tt.args, " "), w, out)
				}
			}
			if strings.Contains(out, "pid=") && !strings.Contains(out, "pid=2") && !strings.Contains(out, "pid=3") {
				t.Errorf("shell is not in the container's PID namespace:\n%s", out)
			}
		})
	}
	t.Run("host", func(t *testing.T) {
		if out := mustMachinectl(t, "shell", ".host", "/bin/sh", "-c", "echo host-$((40+2))"); !strings.Contains(out, "host-42") {
			t.Errorf("machinectl shell .host:\n%s", out)
		}
	})
	t.Run("login", func(t *testing.T) {
		if out := machinectlUntil(t, "login:", "login", "shelly"); !strings.Contains(out, "login:") {
			t.Errorf("machinectl login shows no login prompt:\n%s", out)
		}
	})
	t.Run("open pty", func(t *testing.T) {
		conn := bus.Conn(t)
		var fd dbus.UnixFD
		var path string
		if err := conn.Object(busName, "/org/freedesktop/machine1").Call(mgr+"OpenMachinePTY", 0, "shelly").Store(&fd, &path); err != nil {
			t.Fatal(err)
		}
		master := os.NewFile(uintptr(fd), "master")
		defer master.Close()
		// The slave exists in the container's own devpts, under the path returned.
		out := mustMachinectl(t, "shell", "shelly", "/bin/ls", path)
		if !strings.Contains(out, path) {
			t.Errorf("pty %s is not in the container:\n%s", path, out)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		if out, err := machinectl(t, "shell", "nosuchuser@shelly", "/bin/true"); err == nil {
			t.Errorf("shell as an unknown user succeeded:\n%s", out)
		}
	})
}
