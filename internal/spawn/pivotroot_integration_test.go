package spawn_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
)

// deployments turns a busybox image into one that holds two bootable
// trees, as an OSTree image does: /deploy/a and /deploy/b, each a busybox
// root with its own /marker, and a /marker of the image itself. It
// returns the image.
func deployments(t *testing.T) string {
	t.Helper()
	img := testbed.BusyboxImage(t)
	for _, d := range []string{"a", "b"} {
		tree := filepath.Join(img, "deploy", d)
		if err := os.MkdirAll(filepath.Dir(tree), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", testbed.BusyboxImage(t), tree).CombinedOutput(); err != nil {
			t.Fatalf("copy tree: %v: %s", err, out)
		}
		writeFile(t, filepath.Join(tree, "marker"), "tree "+d+"\n")
	}
	// A symlink resolved inside the image, not on the host.
	if err := os.Symlink("/deploy/b", filepath.Join(img, "current")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(img, "marker"), "image\n")
	writeFile(t, filepath.Join(img, "etc/machine-id"), "00000000000000000000000000000001\n")
	writeFile(t, filepath.Join(img, "deploy/a/etc/machine-id"), "0000000000000000000000000000000a\n")
	return img
}

func TestIntegrationPivotRoot(t *testing.T) {
	testbed.RequireRoot(t)
	img := deployments(t)
	_, usersEnv := privateRoot(t)
	tests := []struct {
		name   string
		env    []string
		args   []string
		script string
		want   string
	}{
		{"new root, old root gone", nil, []string{"--pivot-root=/deploy/a"},
			"cat /marker; ls /sysroot 2>/dev/null || echo no-old", "tree a\nno-old\n"},
		{"old root kept", nil, []string{"--pivot-root=/deploy/a:/sysroot"},
			"cat /marker /sysroot/marker /sysroot/deploy/b/marker", "tree a\nimage\ntree b\n"},
		{"symlink resolved in the image", nil, []string{"--pivot-root=/current"}, "cat /marker", "tree b\n"},
		{"machine ID of the tree", nil, []string{"--pivot-root=/deploy/a"}, "echo $container_uuid", "00000000-0000-0000-0000-00000000000a\n"},
		{"bind from the old root", nil, []string{"--pivot-root=/deploy/a:/sysroot", "--bind=+/sysroot/deploy/b:/mnt"},
			"cat /mnt/marker", "tree b\n"},
		{"read-only", nil, []string{"--pivot-root=/deploy/a:/sysroot", "--read-only"},
			"cat /marker; touch /x 2>/dev/null || echo ro", "tree a\nro\n"},
		{"ephemeral", nil, []string{"--pivot-root=/deploy/a", "-x"}, "echo w > /w && cat /marker /w", "tree a\nw\n"},
		{"user namespace", usersEnv, []string{"--pivot-root=/deploy/a:/sysroot", "-U", "--private-users-ownership=map"},
			"cat /marker /sysroot/marker; stat -c %u /marker", "tree a\nimage\n0\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-q", "--pipe", "--register=no", "-D", img, "-M", machineName(t, "pivot")}, tc.args...)
			r := nspawn(t, tc.env, append(args, "/bin/sh", "-c", tc.script)...)
			if r.code != 0 || r.stdout != tc.want {
				t.Errorf("exit %d, stdout %q, stderr %q; want 0, %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(img, "deploy", "a", "w")); !os.IsNotExist(err) {
		t.Errorf("the ephemeral run wrote into the image: %v", err)
	}
}

func TestIntegrationPivotRootRefused(t *testing.T) {
	img, base := busybox(t)
	// Resolved inside the image, this leads nowhere (on the host, /etc
	// would be a directory).
	if err := os.Symlink("/../../../etc", filepath.Join(img, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(img, "etc")); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, arg, want string }{
		{"missing directory", "--pivot-root=/nonexistent", "--pivot-root=/nonexistent"},
		{"a file", "--pivot-root=/bin/busybox", "not a directory"},
		{"a symlink out of the image", "--pivot-root=/escape", "--pivot-root=/escape"},
		{"relative", "--pivot-root=deploy", "invalid --pivot-root="},
		{"relative old root", "--pivot-root=/deploy:sysroot", "invalid --pivot-root="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := nspawn(t, nil, append(base, "-M", machineName(t, "pivotbad"), tc.arg, "/bin/true")...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

func TestIntegrationPivotRootFromFile(t *testing.T) {
	testbed.RequireRoot(t)
	img := deployments(t)
	name := machineName(t, "pivotfile")
	path := filepath.Join("/run/systemd/nspawn", name+".nspawn")
	writeFile(t, path, "[Exec]\nPivotRoot=/deploy/b:/sysroot\n")
	t.Cleanup(func() { os.Remove(path) })
	r := nspawn(t, nil, "-q", "--pipe", "--register=no", "-D", img, "-M", name, "/bin/cat", "/marker", "/sysroot/marker")
	if r.code != 0 || r.stdout != "tree b\nimage\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want tree b over the image", r.code, r.stdout, r.stderr)
	}
}
