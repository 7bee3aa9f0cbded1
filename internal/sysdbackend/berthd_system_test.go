package sysdbackend

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/imagebuild"
	"github.com/berth-dev/berth/internal/testbed"
	"github.com/berth-dev/berth/internal/unitgen"
)

// Paths inside the test host, as `make install DBUSDIR=/usr/share/dbus-1`
// writes them (Debian's dbus-daemon reads policy only from
// /usr/share/dbus-1 and /etc/dbus-1).
const (
	hostBinDir  = "/usr/local/bin"
	hostUnitDir = "/usr/local/lib/systemd/system"
	hostDBusDir = "/usr/share/dbus-1"
	// guestMark is the file the busybox guest's init creates when it
	// runs its shutdown actions: proof that its own signal stopped it.
	guestMark = "guest-shut-down"
)

// busyboxInittab makes busybox init run one long-lived process and leave
// a mark when it shuts down.
const busyboxInittab = "::sysinit:/bin/rm -f /" + guestMark + "\n" +
	"::respawn:/bin/sleep 1000000\n" +
	"::shutdown:/bin/touch /" + guestMark + "\n"

// TestSystemBerthdInTestHost installs berth (berthd, berthctl,
// berth-nspawn, the units and the D-Bus files) into a Debian test host
// booted with systemd and drives it with berthctl only: berthd is
// bus-activated and runs machines as transient units of the systemd
// backend in machine.slice; poweroff stops a busybox and a systemd guest
// with the guest's own signal (no stop job, no escalation); an enabled
// machine runs again after a reboot of the test host, a disabled one
// does not.
func TestSystemBerthdInTestHost(t *testing.T) {
	testbed.RequireRoot(t)
	root := testbed.CloneDebianImage(t)
	installBerth(t, root)
	if err := imagebuild.Busybox(filepath.Join(root, "var/lib/machines/bb")); err != nil {
		testbed.Unavailable(t, err.Error())
	}
	writeFile(t, filepath.Join(root, "var/lib/machines/bb/etc/inittab"), busyboxInittab)
	guest := testbed.CloneDebianImage(t) // a systemd guest, moved into the test host's pool
	if err := os.Rename(guest, filepath.Join(root, "var/lib/machines/deb")); err != nil {
		t.Fatal(err)
	}
	h := testbed.BootTestHost(t, root)

	ctl(t, h, "start", "bb")
	unit, _ := unitgen.UnitName("bb")
	status := mustRun(t, h, "systemctl", "status", "--no-pager", unit)
	t.Logf("systemctl status %s:\n%s", unit, status)
	if !strings.Contains(status, "/machine.slice/"+unit) {
		t.Errorf("systemctl status of %s: not in machine.slice:\n%s", unit, status)
	}
	if list := ctl(t, h, "list"); !strings.Contains(list, "bb") {
		t.Errorf("berthctl list lacks bb:\n%s", list)
	}
	// A directory image's transient unit needs no module loaded (the
	// template pulls in loop and device-mapper for disk images only),
	// and the mount its image is on (the test host's root); the
	// boot-time instance below keeps the template's lists.
	if out := mustRun(t, h, "systemctl", "show", "-p", "RequiresMountsFor", "-p", "Wants", unit); !strings.Contains(out, "RequiresMountsFor=/\n") ||
		strings.Contains(out, "modprobe@") {
		t.Errorf("dependencies of %s:\n%s\nwant RequiresMountsFor=/ and no modprobe@ unit", unit, out)
	}
	if st := mustRun(t, h, "busctl", "get-property", "org.freedesktop.machine1", "/org/freedesktop/machine1/machine/bb",
		"dev.berth.Machine1", "State"); strings.TrimSpace(st) != `s "running"` {
		t.Errorf("State of bb after berthctl start: %s, want running", st)
	}
	rebootThroughUnit(t, h, "bb", unit)
	states := watchStates(t, h, "bb")
	powerOffByGuest(t, h, "bb", unit)
	if got := states(); !strings.Contains(got, `"closing"`) {
		t.Errorf("no PropertiesChanged to closing during poweroff:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/machines/bb", guestMark)); err != nil {
		t.Errorf("busybox init did not run its shutdown actions: %v", err)
	}

	ctl(t, h, "start", "deb")
	debUnit, _ := unitgen.UnitName("deb")
	waitGuestBooted(t, h, "deb")
	powerOffByGuest(t, h, "deb", debUnit)

	ctl(t, h, "enable", "bb")
	h.Reboot()
	waitActive(t, h, "berth-nspawn@bb.service")
	if out := mustRun(t, h, "systemctl", "show", "-p", "RequiresMountsFor", "berth-nspawn@bb.service"); out != "RequiresMountsFor=/var/lib/machines/bb\n" {
		t.Errorf("RequiresMountsFor of the boot-time instance: %s, want the template's", out)
	}
	if list := ctl(t, h, "list"); !strings.Contains(list, "bb") {
		t.Errorf("berthctl list after the reboot lacks bb:\n%s", list)
	}
	ctl(t, h, "disable", "bb")
	h.Reboot()
	if out, _ := h.Run(nil, "systemctl", "is-active", "berth-nspawn@bb.service"); strings.TrimSpace(out) != "inactive" {
		t.Errorf("disabled machine after reboot: %s", out)
	}
}

// installBerth installs berth's programs, units and D-Bus files into the
// test host's root, as make install does.
func installBerth(t testing.TB, root string) {
	t.Helper()
	for _, p := range []string{"berthd", "berthctl", "berth-nspawn"} {
		testbed.CopyFile(t, testbed.Binary(t, p), filepath.Join(root, hostBinDir, p))
	}
	repo := testbed.RepoRoot(t)
	for _, u := range []string{unitgen.Template, unitgen.Target, "berthd.service"} {
		b, err := os.ReadFile(filepath.Join(repo, "units", u))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, hostUnitDir, u), strings.ReplaceAll(string(b), "@BINDIR@", hostBinDir))
	}
	for _, f := range []string{"system.d/org.freedesktop.machine1.conf", "system-services/org.freedesktop.machine1.service"} {
		b, err := os.ReadFile(filepath.Join(repo, "units/dbus", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, hostDBusDir, f), strings.ReplaceAll(string(b), "@BINDIR@", hostBinDir))
	}
}

func writeFile(t testing.TB, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ctl runs berthctl in the test host and fails the test if it fails.
func ctl(t *testing.T, h *testbed.TestHost, args ...string) string {
	t.Helper()
	return mustRun(t, h, append([]string{filepath.Join(hostBinDir, "berthctl")}, args...)...)
}

func mustRun(t *testing.T, h *testbed.TestHost, args ...string) string {
	t.Helper()
	out, err := h.Run(nil, args...)
	if err != nil {
		j, _ := h.Run(nil, "journalctl", "--no-pager", "-n", "80")
		t.Fatalf("%s: %v\n%s\njournal:\n%s", strings.Join(args, " "), err, out, j)
	}
	return out
}

// powerOffByGuest powers machine off with berthctl and checks that its
// unit (started once in this boot) went down on its own: the guest's init shut down and berth-nspawn
// exited, so systemd never ran a stop job (which would log "Stopping")
// and never escalated to SIGKILL.
func powerOffByGuest(t *testing.T, h *testbed.TestHost, machine, unit string) {
	t.Helper()
	// systemd's own messages about the unit (the guest's console output
	// is logged under the unit too).
	journal := func() string {
		return mustRun(t, h, "journalctl", "--no-pager", "-o", "cat", "_PID=1", "UNIT="+unit)
	}
	const ended = "Deactivated successfully"
	endedBefore := strings.Count(journal(), ended)
	start := time.Now()
	ctl(t, h, "poweroff", machine)
	took := time.Since(start)
	if out, _ := h.Run(nil, "systemctl", "is-active", unit); strings.TrimSpace(out) == "active" {
		t.Errorf("%s still active after poweroff", unit)
	}
	var j string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if j = journal(); strings.Count(j, ended) > endedBefore { // once journald has it
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not end cleanly:\n%s", unit, j)
		}
	}
	t.Logf("berthctl poweroff %s took %v; systemd logged:\n%s", machine, took.Round(time.Millisecond), j)
	for _, bad := range []string{"Stopping", "SIGKILL", "Killing process", "timed out"} {
		if strings.Contains(j, bad) {
			t.Errorf("poweroff of %s escalated (journal has %q):\n%s", machine, bad, j)
		}
	}
}

// waitGuestBooted waits until the systemd guest's init has finished
// booting (it takes its power-off signal only once it runs), asking it
// through the leader berthd registered.
func waitGuestBooted(t *testing.T, h *testbed.TestHost, machine string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var out string
		prop, err := h.Run(nil, "busctl", "get-property", "org.freedesktop.machine1",
			"/org/freedesktop/machine1/machine/"+machine, "org.freedesktop.machine1.Machine", "Leader")
		if f := strings.Fields(prop); err == nil && len(f) == 2 {
			out, _ = h.Run(nil, "nsenter", "-t", f[1], "-a", "systemctl", "is-system-running")
		}
		if s := strings.TrimSpace(out); s == "running" || s == "degraded" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("guest %s never finished booting: %s %s", machine, prop, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitActive waits until unit is active in the test host.
func waitActive(t *testing.T, h *testbed.TestHost, unit string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, _ := h.Run(nil, "systemctl", "is-active", unit)
		if strings.TrimSpace(out) == "active" {
			return
		}
		if time.Now().After(deadline) {
			st, _ := h.Run(nil, "systemctl", "status", "--no-pager", unit)
			t.Fatalf("%s never active: %s", unit, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// watchStates watches dev.berth.Machine1 PropertiesChanged signals of
// machine with busctl monitor in the test host; the returned function
// stops watching and returns what busctl printed.
func watchStates(t *testing.T, h *testbed.TestHost, machine string) func() string {
	t.Helper()
	match := "type='signal',member='PropertiesChanged',path='/org/freedesktop/machine1/machine/" + machine + "'"
	cmd := exec.Command("nsenter", "-t", strconv.Itoa(h.Leader), "-a", "busctl", "monitor", "--match="+match)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// busctl says "Monitoring bus message stream." once its match is in
	// place.
	for ready := false; !ready; {
		select {
		case l := <-lines:
			ready = strings.Contains(l, "Monitoring")
		case <-time.After(30 * time.Second):
			t.Fatal("busctl monitor never started")
		}
	}
	return func() string {
		var got []string
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					return strings.Join(got, "\n")
				}
				got = append(got, l)
				if strings.Contains(l, `"closing"`) {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					return strings.Join(got, "\n")
				}
			case <-timeout:
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				return strings.Join(got, "\n")
			}
		}
	}
}

// leaderOf returns the machine's leader PID as berthd has it, or "" when
// it is not registered.
func leaderOf(h *testbed.TestHost, machine string) string {
	out, err := h.Run(nil, "busctl", "get-property", "org.freedesktop.machine1",
		"/org/freedesktop/machine1/machine/"+machine, "org.freedesktop.machine1.Machine", "Leader")
	if f := strings.Fields(out); err == nil && len(f) == 2 {
		return f[1]
	}
	return ""
}

// rebootThroughUnit reboots machine with berthctl: the guest reboots on
// its own signal, berth-nspawn exits with 133, and systemd restarts the
// same unit (RestartForceExitStatus=133), which registers a new leader.
func rebootThroughUnit(t *testing.T, h *testbed.TestHost, machine, unit string) {
	t.Helper()
	before := leaderOf(h, machine)
	ctl(t, h, "reboot", machine)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if l := leaderOf(h, machine); l != "" && l != before {
			break
		}
		if time.Now().After(deadline) {
			st, _ := h.Run(nil, "systemctl", "status", "--no-pager", unit)
			t.Fatalf("%s did not come back with a new leader after reboot:\n%s", machine, st)
		}
	}
	waitActive(t, h, unit)
	if n := mustRun(t, h, "systemctl", "show", "-p", "NRestarts", unit); strings.TrimSpace(n) != "NRestarts=1" {
		t.Errorf("%s after one reboot: %s", unit, n)
	}
}
