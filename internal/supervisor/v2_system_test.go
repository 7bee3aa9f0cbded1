package supervisor

import (
	"os"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
)

// v2Env marks a run of this test binary inside the pure cgroup v2 test
// container.
const v2Env = "BERTH_SUPERVISOR_PURE_V2"

// v2Tests are the integration tests that need no busybox image, run again
// on a pure cgroup v2 layout, and TestSystemPureV2 itself, which checks the
// layout there.
const v2Tests = "^TestIntegration(StopEscalation|RebootRestarts|ParallelStarts|ConcurrentStartsOfOneMachine|Notify|" +
	"MonitorLost|RestartLimit|BadInput)$|^TestSystemPureV2$"

// TestSystemPureV2 runs the supervisor's integration tests on a pure
// cgroup v2 host, as most real hosts are: this binary runs in a Debian
// container that systemd-nspawn gives only the unified hierarchy
// (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1), with a private network.
func TestSystemPureV2(t *testing.T) {
	testbed.RequireRoot(t)
	if os.Getenv(v2Env) != "" {
		checkPureV2Layout(t)
		return
	}
	testbed.RunTestInPureV2(t, testbed.CloneDebianImage(t), v2Env, v2Tests)
}

// checkPureV2Layout checks, inside the container, that the supervisor sees
// a single v2 hierarchy.
func checkPureV2Layout(t *testing.T) {
	hs, err := layout("/sys/fs/cgroup", pathExists)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || !hs[0].V2 || hs[0].Root != "/sys/fs/cgroup" {
		t.Fatalf("layout = %+v, want the single v2 hierarchy", hs)
	}
}
