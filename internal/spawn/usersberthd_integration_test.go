package spawn_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/google/go-cmp/cmp"
)

// TestIntegrationPrivateUsersRegistered registers a -U machine with a
// test berthd: the real busctl reads its range base back through
// GetMachineUIDShift and the machine's GetUIDShift, and maps IDs in and
// out of it (berthd reads the leader's uid_map); the real machinectl shell
// gets a root shell inside the machine's user namespace.
func TestIntegrationPrivateUsersRegistered(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	bus := testbed.StartBus(t)
	p, env := privateRoot(t)
	testbed.StartBerthd(t, bus, p)
	env = append(env, testbed.SystemBusEnv+"="+bus.Address)
	r := startRunning(t, env, "-q", "--pipe", "--register=yes", "--keep-unit", "-D", img, "-M", "t-usersreg", "-U",
		"/bin/sh", "-c", "cat /proc/self/uid_map; exec sleep 1000")
	base := strconv.FormatUint(uint64(r.rangeBase(t)), 10)
	const mgr = "org.freedesktop.machine1.Manager"
	path := strings.Trim(strings.TrimPrefix(busctl(t, "call", "org.freedesktop.machine1", "/org/freedesktop/machine1", mgr,
		"GetMachine", "s", "t-usersreg"), "o "), `"`)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"GetMachineUIDShift", []string{"/org/freedesktop/machine1", mgr, "GetMachineUIDShift", "s", "t-usersreg"}, "u " + base},
		{"Machine.GetUIDShift", []string{path, "org.freedesktop.machine1.Machine", "GetUIDShift"}, "u " + base},
		{"MapFromMachineUser", []string{"/org/freedesktop/machine1", mgr, "MapFromMachineUser", "su", "t-usersreg", "5"}, "u " + addTo(base, 5)},
		{"MapToMachineUser", []string{"/org/freedesktop/machine1", mgr, "MapToMachineUser", "u", addTo(base, 5)},
			`sou "t-usersreg" "` + path + `" 5`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := busctl(t, append([]string{"call", "org.freedesktop.machine1"}, tc.args...)...); got != tc.want {
				t.Errorf("busctl = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("machinectl shell", func(t *testing.T) {
		// machinectl wants /run/systemd/system, as on a host booted with
		// systemd: give it one in a mount namespace of its own.
		script := `mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && exec "$0" "$@"`
		cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script,
			testbed.RequireTool(t, "machinectl"), "shell", "t-usersreg", "/bin/sh", "-c",
			"id -u; touch /root/f; stat -c %u /root/f; head -1 /proc/self/uid_map")
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + bus.Address}
		out, err := cmd.CombinedOutput()
		var got []string
		for _, line := range strings.Split(strings.ReplaceAll(string(out), "\r", ""), "\n") {
			if !strings.HasPrefix(line, "Connect") && line != "" {
				got = append(got, strings.Join(strings.Fields(line), " "))
			}
		}
		if diff := cmp.Diff([]string{"0", "0", "0 " + base + " 65536"}, got); err != nil || diff != "" {
			t.Errorf("machinectl shell: %v, output (-want +got):\n%s", err, diff)
		}
	})
	busctl(t, "call", "org.freedesktop.machine1", "/org/freedesktop/machine1", mgr, "KillMachine", "ssi", "t-usersreg", "leader", "9")
	waitExit(t, r.cmd)
}

// busctl runs the real busctl on the test's system bus and returns its
// trimmed output, failing t on an error.
func busctl(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(testbed.RequireTool(t, "busctl"), append([]string{"--system", "--no-pager"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_COLORS=0",
		testbed.SystemBusEnv + "=" + os.Getenv(testbed.SystemBusEnv)}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("busctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// addTo returns the decimal n plus d.
func addTo(n string, d uint64) string {
	v, _ := strconv.ParseUint(n, 10, 32)
	return strconv.FormatUint(v+d, 10)
}
