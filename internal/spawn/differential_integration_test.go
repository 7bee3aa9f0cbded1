package spawn_test

import (
	"bytes"
	"context"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/google/go-cmp/cmp"
)

// probe prints, one section per line group, what the differential test
// compares: PID, hostname, environment names, mount table shape and
// capabilities. The container then exits 3.
const probe = `echo "pid $$"; echo "hostname $(hostname)"; env | cut -d= -f1 | sort | sed 's/^/env /'
awk '{print "mount", $5, $(NF-2)}' /proc/self/mountinfo | sort -u; grep ^Cap /proc/self/status; exit 3`

// shapeExceptions are mount points where berth-nspawn differs from
// systemd-nspawn on purpose: it always gives the container a cgroup2
// hierarchy (systemd-nspawn mounts the v1 controllers for a guest without
// systemd on a hybrid host), and it has no /run/host/incoming (machinectl
// bind's propagation directory).
var shapeExceptions = []string{"mount /sys/fs/cgroup", "mount /run/host/incoming"}

// runProbe runs the probe under bin (berth-nspawn or systemd-nspawn) and
// returns its comparable lines and exit status.
func runProbe(t *testing.T, bin, img string, extra ...string) ([]string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	args := append([]string{"-q", "--keep-unit", "--register=no", "--pipe", "-D", img, "-M", "t-diff", "--uuid=0123456789abcdef0123456789abcdef"}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, "/bin/sh", "-c", probe)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=dumb", testbed.SystemBusEnv + "=" + busAddress}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !excepted(l) {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return lines, cmd.ProcessState.ExitCode()
}

func excepted(line string) bool {
	for _, e := range shapeExceptions {
		if line == e || strings.HasPrefix(line, e+" ") || strings.HasPrefix(line, e+"/") {
			return true
		}
	}
	return false
}

// busAddress is the private system bus systemd-nspawn needs on a host
// where systemd is not PID 1.
var busAddress string

func TestIntegrationDifferential(t *testing.T) {
	testbed.RequireRoot(t)
	nspawnBin := testbed.RequireTool(t, "systemd-nspawn")
	busAddress = testbed.StartBus(t).Address
	tests := []struct {
		name  string
		extra []string
	}{
		{"defaults", nil},
		{"private network", []string{"--private-network"}},
		{"dropped capabilities and env", []string{"--drop-capability=CAP_SYS_ADMIN", "-E", "X=1"}},
		{"read-only", []string{"--read-only"}},
		{"hostname and chdir", []string{"--hostname=other", "--chdir=/tmp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := testbed.BusyboxImage(t)
			want, wantCode := runProbe(t, nspawnBin, img, tc.extra...)
			got, gotCode := runProbe(t, testbed.Binary(t, "berth-nspawn"), img, tc.extra...)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("systemd-nspawn (-) and berth-nspawn (+) differ:\n%s", diff)
			}
			if gotCode != wantCode || gotCode != 3 {
				t.Errorf("exit status: systemd-nspawn %d, berth-nspawn %d, want 3", wantCode, gotCode)
			}
		})
	}
}
