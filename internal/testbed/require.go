package testbed

import (
	"os"
	"os/exec"
	"testing"
)

// StrictEnv is the environment variable that turns every skip of this
// package into a failure. .ci/run sets it.
const StrictEnv = "BERTH_TEST_STRICT"

// Strict reports whether skips are failures in this run.
func Strict() bool { return os.Getenv(StrictEnv) == "1" }

// Unavailable skips t, or fails it in a strict run, giving why.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s (a skip is a failure with %s=1)", why, StrictEnv)
	}
	t.Skip(why)
}

// RequireRoot skips t outside CI when the test does not run as root, and
// fails it in a strict run.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "test needs root")
	}
}

// RequireTool skips or fails t (see Unavailable) when a program is not on
// PATH, and returns its full path.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, name+" not found (run make deps)")
	}
	return p
}
