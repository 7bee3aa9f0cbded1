package spawn_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
)

func TestIntegrationMachineFindsImage(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	name := machineName(t, "find")
	entry := filepath.Join("/run/machines", name)
	if err := os.MkdirAll(filepath.Dir(entry), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(img, entry); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(entry) })
	writeFile(t, filepath.Join(img, "marker"), "found\n")
	r := nspawn(t, nil, "-q", "--pipe", "--register=no", "-M", name, "/bin/cat", "/marker")
	if r.code != 0 || r.stdout != "found\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestIntegrationImageBusy(t *testing.T) {
	_, args := busybox(t)
	// The first container is killed at the end: under a private root, what
	// it leaves behind goes with the test's temp directory.
	_, env := privateRoot(t)
	first := exec.Command(testbed.Binary(t, "berth-nspawn"), append(args, "-M", machineName(t, "busy1"),
		"/bin/sh", "-c", "echo up; exec sleep 60")...)
	first.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	out, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Process.Kill(); _ = first.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "up\n" {
		t.Fatalf("first container: %q, %v", line, err)
	}
	r := nspawn(t, env, append(args, "-M", machineName(t, "busy2"), "/bin/true")...)
	if r.code != 1 || !strings.Contains(r.stderr, "busy") {
		t.Errorf("second start: exit %d, stderr %q; want 1 and busy", r.code, r.stderr)
	}
	r = nspawn(t, env, append(args, "-M", machineName(t, "busy3"), "--read-only", "/bin/true")...)
	if r.code != 0 {
		t.Errorf("read-only start beside it: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestIntegrationRawImage(t *testing.T) {
	testbed.RequireRoot(t)
	mkfs := testbed.RequireTool(t, "mkfs.ext4")
	raw := filepath.Join(t.TempDir(), "img.raw")
	if out, err := exec.Command(mkfs, "-q", "-d", testbed.BusyboxImage(t), raw, "64M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v: %s", err, out)
	}
	name := machineName(t, "raw")
	entry := filepath.Join("/run/machines", name+".raw")
	if err := os.MkdirAll(filepath.Dir(entry), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(raw, entry); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(entry) })
	tests := []struct {
		name   string
		args   []string
		script string
		want   string
		code   int
	}{
		{"write", []string{"-i", raw}, "echo kept > /kept; cat /kept", "kept\n", 0},
		{"kept across starts", []string{"-i", raw}, "cat /kept", "kept\n", 0},
		{"read-only", []string{"-i", raw, "--read-only"}, "cat /kept; touch /x 2>/dev/null || echo refused", "kept\nrefused\n", 0},
		{"found by -M", []string{"-M", name}, "cat /kept", "kept\n", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-q", "--pipe", "--register=no"}, tc.args...)
			r := nspawn(t, nil, append(args, "/bin/sh", "-c", tc.script)...)
			if r.code != tc.code || r.stdout != tc.want {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q", r.code, r.stdout, r.stderr, tc.code, tc.want)
			}
		})
	}
}
