package supervisor

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
	nspawn := testbed.RequireTool(t, "systemd-nspawn")
	root := testbed.CloneDebianImage(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := "/usr/local/bin/berth-supervisor.test"
	copyExecutable(t, self, filepath.Join(root, bin))
	// A unique machine name: nspawn keeps per-name state under /run, and
	// other tests may boot clones of the same image at the same time.
	cmd := exec.Command(nspawn, "--quiet", "--register=no", "--keep-unit", "--private-network", "-D", root,
		"--machine="+filepath.Base(filepath.Dir(filepath.Dir(root))), // the test's temp dir
		"--setenv="+v2Env+"=1", "--setenv="+testbed.StrictEnv+"="+os.Getenv(testbed.StrictEnv),
		bin, "-test.run", v2Tests, "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in the pure v2 container:\n%s", out)
	if err != nil {
		t.Fatalf("supervisor tests on pure cgroup v2: %v", err)
	}
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

func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
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
