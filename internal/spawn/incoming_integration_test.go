package spawn_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestIntegrationIncoming mounts a file system below the machine's host
// propagation directory while the container runs, as a machine manager's
// BindMount does: it shows up at /run/host/incoming, which the container
// cannot write to, and the directory is gone when the machine is.
func TestIntegrationIncoming(t *testing.T) {
	_, args := busybox(t)
	p, env := privateRoot(t)
	const machine = "t-incoming"
	dir := filepath.Join(p.Run, "propagate", machine)
	script := `echo up
while [ ! -e /run/host/incoming/x/probe ]; do sleep 0.1; done
cat /run/host/incoming/x/probe
if touch /run/host/incoming/new 2>/dev/null; then echo writable; else echo read-only; fi
echo done
while [ -e /run/host/incoming/x ]; do sleep 0.1; done`
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, testbed.Binary(t, "berth-nspawn"), append(args, "-M", machine, "/bin/sh", "-c", script)...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	var got []string
	for lines.Scan() {
		got = append(got, lines.Text())
		switch lines.Text() {
		case "up":
			mountProbe(t, filepath.Join(dir, "x"))
		case "done":
			if err := unix.Unmount(filepath.Join(dir, "x"), unix.MNT_DETACH); err != nil {
				t.Error(err)
			}
			if err := os.Remove(filepath.Join(dir, "x")); err != nil {
				t.Error(err)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("berth-nspawn: %v (output %q)", err, got)
	}
	if diff := cmp.Diff([]string{"up", "hello from the host", "read-only", "done"}, got); diff != "" {
		t.Errorf("container output (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("propagation directory %s left behind: %v", dir, err)
	}
}

// mountProbe mounts a tmpfs at dir (created first) with a probe file in it.
func mountProbe(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH); _ = os.Remove(dir) })
	if err := os.WriteFile(filepath.Join(dir, "probe"), []byte("hello from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
