package machine1_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationBusctlCalls calls the reading methods with the real
// busctl, with good arguments (reply signature checked) and bad ones
// (the call fails with the expected message).
func TestIntegrationBusctlCalls(t *testing.T) {
	testbed.RequireRoot(t)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(paths.Under(root).Pool, "img1/etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(paths.Under(root).Pool, "img1/etc/hostname"), []byte("imghost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bus := testbed.StartBus(t)
	startBerthd(t, bus, root)
	l := startLeader(t, "--net")
	register(t, "callme", l.PID, "/")
	pid := strconv.Itoa(int(l.PID))
	tests := []struct {
		args []string
		want string // prefix of the output, or of the error message
		ok   bool
	}{
		{[]string{"GetMachine", "s", "callme"}, `o "/org/freedesktop/machine1/machine/callme"`, true},
		{[]string{"GetMachineByPID", "u", pid}, `o "/org/freedesktop/machine1/machine/callme"`, true},
		{[]string{"ListMachines"}, "a(ssso) 2 ", true},
		{[]string{"ListImages"}, "a(ssbttto) 2 ", true},
		{[]string{"GetImage", "s", "img1"}, `o "/org/freedesktop/machine1/image/img1"`, true},
		{[]string{"GetImageHostname", "s", "img1"}, `s "imghost"`, true},
		{[]string{"GetImageMachineID", "s", "img1"}, "ay 0", true},
		{[]string{"GetImageMachineInfo", "s", "img1"}, "a{ss} 0", true},
		{[]string{"GetImageOSRelease", "s", "img1"}, "a{ss} 0", true},
		{[]string{"GetMachineAddresses", "s", "callme"}, "a(iay) 0", true},
		{[]string{"GetMachineOSRelease", "s", "callme"}, "a{ss} ", true},
		{[]string{"GetMachineUIDShift", "s", "callme"}, "u 0", true},
		{[]string{"MapFromMachineUser", "su", "callme", "1000"}, "u 1000", true},
		{[]string{"GetMachine", "u", "5"}, `Call failed: invalid arguments "u", expecting "s"`, false},
		{[]string{"GetMachine", "ss", "a", "b"}, `Call failed: invalid arguments "ss", expecting "s"`, false},
		{[]string{"GetMachine", "s", "nosuch"}, `Call failed: no machine "nosuch" known`, false},
		{[]string{"GetImage", "s", "nosuch"}, "Call failed: find image nosuch", false},
		{[]string{"GetMachineByPID", "u", "1"}, "Call failed: PID 1 does not belong to any known machine", false},
		{[]string{"KillMachine", "ssi", "callme", "nobody", "15"}, `Call failed: kill: invalid kill parameter "nobody"`, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{"call", busName, "/org/freedesktop/machine1", busName + ".Manager"}, tt.args...)
			out, err := busctl(t, false, args...)
			if (err == nil) != tt.ok || !strings.HasPrefix(out, tt.want) {
				t.Errorf("busctl %s = %v:\n%s\nwant prefix %q", strings.Join(tt.args, " "), err, out, tt.want)
			}
		})
	}
}
