package testbed

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/paths"
)

// StartBerthdIn is StartBerthd with berthd in the network namespace ns,
// or in the test's own network namespace when ns is nil (for tests that
// compare a machine's network namespace with berthd's).
func StartBerthdIn(t testing.TB, bus *Bus, p paths.Paths, ns *NetNS, args ...string) *Berthd {
	t.Helper()
	argv := append([]string{Binary(t, "berthd"), "--root", p.Root}, args...)
	if ns != nil {
		argv = append([]string{RequireTool(t, "nsenter"), "--net=" + ns.Path}, argv...)
	}
	d := &Berthd{stderr: &lockedBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(argv[0], argv[1:]...)
	d.cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", SystemBusEnv + "=" + bus.Address, "BERTH_BACKEND=embedded"}
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.powerOffAll(bus, p)
		_ = d.cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			t.Logf("berthd:\n%s", d.Log())
		}
	})
	d.waitName(t, bus)
	return d
}

// PID returns berthd's process ID (nsenter execs berthd in place).
func (d *Berthd) PID() int { return d.cmd.Process.Pid }

// Stop sends sig to berthd, waits until it exits (killing it after a
// generous deadline) and returns how it exited.
func (d *Berthd) Stop(sig syscall.Signal) *os.ProcessState {
	_ = d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	return d.cmd.ProcessState
}
