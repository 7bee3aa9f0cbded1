package spawn_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// runTimeout bounds one container run in the tests (a hang guard only).
const runTimeout = 90 * time.Second

// result is what one berth-nspawn run produced.
type result struct {
	stdout, stderr string
	code           int
}

// nspawn runs berth-nspawn with args and env (nil: a minimal PATH) and
// returns its output, with carriage returns removed.
func nspawn(t *testing.T, env []string, args ...string) result {
	t.Helper()
	bin := testbed.Binary(t, "berth-nspawn")
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run berth-nspawn: %v", err)
	}
	return result{strings.ReplaceAll(out.String(), "\r", ""), errb.String(), code}
}

// busybox returns a fresh busybox image and the common leading options
// (quiet, pipe console, no registration, that image).
func busybox(t *testing.T) (string, []string) {
	t.Helper()
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	return img, []string{"-q", "--pipe", "--register=no", "-D", img}
}

// writeFile writes a file, failing t on error.
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// cgroupLeftovers lists machine scopes left in the cgroup2 hierarchy for
// names starting with prefix.
func cgroupLeftovers(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{"/sys/fs/cgroup/machine.slice", "/sys/fs/cgroup/unified/machine.slice"} {
		m, _ := filepath.Glob(filepath.Join(dir, "machine-"+prefix+"*"))
		out = append(out, m...)
	}
	return out
}

// privateRoot returns the environment that puts berth-nspawn's host state
// (UID range records and locks, .nspawn directories, pools) below a
// temp root of t, so -U runs leave nothing under the real /var/lib/berth.
func privateRoot(t testing.TB) (paths.Paths, []string) {
	t.Helper()
	p := testbed.Paths(t)
	return p, []string{"BERTH_ROOT=" + p.Root}
}
