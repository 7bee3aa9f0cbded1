package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// policy lets root own the alternative bus name the test uses.
const policy = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><policy user="root"><allow own="dev.berth.Test"/></policy></busconfig>
`

// TestIntegrationBerthd starts the real binary: it tells systemd READY=1,
// a second instance exits naming the owner and the remedy, --bus-name
// picks another name, and SIGTERM stops it cleanly.
func TestIntegrationBerthd(t *testing.T) {
	testbed.RequireRoot(t)
	extra := filepath.Join(t.TempDir(), "test.conf")
	if err := os.WriteFile(extra, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	bus := testbed.StartBus(t, extra)
	bin := testbed.Binary(t, "berthd")
	notify := filepath.Join(t.TempDir(), "notify")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()

	first, firstErr := start(t, bin, bus, "NOTIFY_SOCKET="+notify)
	buf := make([]byte, 256)
	_ = sock.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := sock.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "READY=1") {
		t.Fatalf("no READY=1 from berthd: %q, %v\n%s", buf[:n], err, firstErr)
	}

	second, secondErr := start(t, bin, bus, "")
	if err := second.Wait(); err == nil {
		t.Fatal("a second berthd on the same name did not fail")
	}
	for _, w := range []string{"org.freedesktop.machine1 is owned by :", "berthd)", "systemctl stop systemd-machined", "--bus-name"} {
		if !strings.Contains(secondErr.String(), w) {
			t.Errorf("second berthd's message lacks %q:\n%s", w, secondErr)
		}
	}

	other, otherErr := start(t, bin, bus, "", "--bus-name=dev.berth.Test")
	bus.WaitName(t, "dev.berth.Test", 30*time.Second)

	for _, c := range []*exec.Cmd{first, other} {
		_ = c.Process.Signal(syscall.SIGTERM)
		if err := c.Wait(); err != nil {
			t.Errorf("berthd after SIGTERM: %v\n%s%s", err, firstErr, otherErr)
		}
	}
}

// start runs berthd on bus with its paths under a temp root.
func start(t *testing.T, bin string, bus *testbed.Bus, env string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, append([]string{"--root", t.TempDir(), "--network=no"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + bus.Address}
	if env != "" {
		cmd.Env = append(cmd.Env, env)
	}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, &stderr
}
