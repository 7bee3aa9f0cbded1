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
	first := exec.Command(testbed.Binary(t, "berth-nspawn"), append(args, "-M", machineName(t, "busy1"),
		"/bin/sh", "-c", "echo up; exec sleep 60")...)
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
	r := nspawn(t, nil, append(args, "-M", machineName(t, "busy2"), "/bin/true")...)
	if r.code != 1 || !strings.Contains(r.stderr, "busy") {
		t.Errorf("second start: exit %d, stderr %q; want 1 and busy", r.code, r.stderr)
	}
	r = nspawn(t, nil, append(args, "-M", machineName(t, "busy3"), "--read-only", "/bin/true")...)
	if r.code != 0 {
		t.Errorf("read-only start beside it: exit %d, stderr %q", r.code, r.stderr)
	}
}
