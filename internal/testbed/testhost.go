package testbed

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHost is a Debian system booted with systemd as its PID 1 in a
// container with a private network (systemd-nspawn), for system tests
// that need a real systemd: this VM's systemd is not PID 1, and a
// container sharing the VM's network could not create veths inside.
type TestHost struct {
	t               testing.TB
	nspawn, nsenter string
	// Root is the test host's root directory on this machine.
	Root string
	// Leader is the test host's PID 1, as a PID of this machine.
	Leader int
	done   chan error
}

// BootTestHost boots root (typically CloneDebianImage(t), with whatever
// the test installed into it) and waits until systemd finished booting.
// The test host is powered off, or killed, when the test ends.
func BootTestHost(t testing.TB, root string) *TestHost {
	t.Helper()
	h := &TestHost{
		t: t, nspawn: RequireTool(t, "systemd-nspawn"), nsenter: RequireTool(t, "nsenter"), Root: root,
	}
	h.boot()
	h.WaitRunning()
	return h
}

// Run runs a command inside the test host, in all its namespaces, with a
// plain PATH and the extra environment env ("NAME=value" each), and
// returns its combined output.
func (h *TestHost) Run(env []string, args ...string) (string, error) {
	cmd := exec.Command(h.nsenter, append([]string{"-t", strconv.Itoa(h.Leader), "-a"}, args...)...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// WaitRunning waits until the test host's systemd says the system is
// running (or degraded).
func (h *TestHost) WaitRunning() {
	h.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, _ := h.Run(nil, "systemctl", "is-system-running", "--wait")
		if s := strings.TrimSpace(out); s == "running" || s == "degraded" {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("test host never finished booting: %s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Reboot reboots the test host and waits until it runs again: inside, it
// runs `systemctl reboot`; systemd-nspawn exits with 133 and is started
// again, as the systemd-nspawn@ unit's RestartForceExitStatus=133 would.
func (h *TestHost) Reboot() {
	h.t.Helper()
	if out, err := h.Run(nil, "systemctl", "reboot"); err != nil {
		h.t.Fatalf("systemctl reboot: %v: %s", err, out)
	}
	select {
	case err := <-h.done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 133 {
			h.t.Fatalf("systemd-nspawn after reboot: %v, want exit status 133", err)
		}
	case <-time.After(2 * time.Minute):
		h.t.Fatal("test host did not reboot")
	}
	h.boot()
	h.WaitRunning()
}

// boot starts systemd-nspawn on the root and finds the test host's PID 1.
func (h *TestHost) boot() {
	t := h.t
	t.Helper()
	// A unique machine name: nspawn keeps per-name state under /run, and
	// other tests may boot clones of the same image at the same time.
	cmd := exec.Command(h.nspawn, "--quiet", "--register=no", "--keep-unit", "--private-network", "--boot",
		"-D", h.Root, "--machine="+filepath.Base(filepath.Dir(filepath.Dir(h.Root))))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h.done = make(chan error, 1)
	exited := make(chan struct{})
	go func(done chan<- error) { done <- cmd.Wait(); close(exited) }(h.done)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // nspawn asks systemd to halt
		select {
		case <-exited:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		if pid := findSystemdInit(cmd.Process.Pid); pid != 0 {
			h.Leader = pid
			return
		}
		select {
		case <-exited:
			t.Fatalf("test host exited: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("test host has no init: %s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// findSystemdInit returns the descendant of pid that is PID 1 of a PID
// namespace and runs systemd, or 0.
func findSystemdInit(pid int) int {
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, f := range strings.Fields(string(kids)) {
		child, _ := strconv.Atoi(f)
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", child))
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child))
		if strings.Contains(string(status), "NSpid:\t"+f+"\t1\n") && strings.TrimSpace(string(comm)) == "systemd" {
			return child
		}
		if found := findSystemdInit(child); found != 0 {
			return found
		}
	}
	return 0
}

// CopyFile copies the file src to dst with src's permission bits,
// creating dst's directory, as tests install programs and files into an
// image.
func CopyFile(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// CopySelf copies the running test binary to dst inside an image, so that
// it can play its inner role there.
func CopySelf(t testing.TB, dst string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	CopyFile(t, self, dst)
}

// RunTestInPureV2 runs the running test binary again inside root (a
// Debian image, typically CloneDebianImage(t)) in a container that
// systemd-nspawn gives only the unified cgroup hierarchy
// (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1), as most real hosts have, with a
// private network. There the binary runs the tests matching run, with
// marker=1 in its environment (so a test can tell it runs inside) and
// this run's StrictEnv; nspawnArgs go to systemd-nspawn before the
// command (binds, for instance). The test fails if the inner run does.
func RunTestInPureV2(t testing.TB, root, marker, run string, nspawnArgs ...string) {
	t.Helper()
	nspawn := RequireTool(t, "systemd-nspawn")
	bin := "/usr/local/bin/berth-pure-v2.test"
	CopySelf(t, filepath.Join(root, bin))
	args := []string{"--quiet", "--register=no", "--keep-unit", "--private-network", "-D", root,
		// A unique machine name: nspawn keeps per-name state under /run,
		// and other tests may boot clones of the same image at once.
		"--machine=" + filepath.Base(filepath.Dir(filepath.Dir(root))),
		"--setenv=" + marker + "=1", "--setenv=" + StrictEnv + "=" + os.Getenv(StrictEnv)}
	args = append(append(args, nspawnArgs...), bin, "-test.run", run, "-test.v", "-test.count=1")
	cmd := exec.Command(nspawn, args...)
	cmd.Env = append(os.Environ(), "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in the pure cgroup v2 container:\n%s", out)
	if err != nil {
		t.Fatalf("tests %s on pure cgroup v2: %v", run, err)
	}
}
