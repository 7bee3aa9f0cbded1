package spawn_test

import (
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
)

// fileSum returns the SHA-256 of the file at path.
func fileSum(t *testing.T, path string) [sha256.Size]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// TestIntegrationRawImageThrowAway runs a raw image with -x and each
// --volatile mode: the container may write where the mode allows, and
// the image file is left bit for bit as it was.
func TestIntegrationRawImageThrowAway(t *testing.T) {
	testbed.RequireRoot(t)
	mkfs := testbed.RequireTool(t, "mkfs.ext4")
	// A merged /usr, so --volatile=yes (the image's /usr only) still
	// has busybox behind /bin.
	img := testbed.BusyboxImage(t)
	if out, err := exec.Command("/bin/sh", "-c", "cd "+img+" && mv bin/* usr/bin/ && rmdir bin && ln -s usr/bin bin").CombinedOutput(); err != nil {
		t.Fatalf("merge /usr: %v: %s", err, out)
	}
	raw := filepath.Join(t.TempDir(), "img.raw")
	if out, err := exec.Command(mkfs, "-q", "-d", img, raw, "64M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v: %s", err, out)
	}
	before := fileSum(t, raw)
	_, usersEnv := privateRoot(t)
	tests := []struct {
		name   string
		env    []string
		args   []string
		script string
		want   string
	}{
		{"ephemeral", nil, []string{"-x"}, "echo x > /written && cat /written", "x\n"},
		{"ephemeral leaves nothing for the next run", nil, []string{"-x"}, "test ! -e /written && echo clean", "clean\n"},
		{"volatile yes", nil, []string{"--volatile=yes"}, "readlink /bin; echo y > /etc/w && cat /etc/w; touch /usr/w 2>/dev/null || echo usr-ro", "usr/bin\ny\nusr-ro\n"},
		{"volatile state", nil, []string{"--volatile=state"}, "echo s > /var/w && cat /var/w; touch /w 2>/dev/null || echo ro", "s\nro\n"},
		{"volatile overlay", nil, []string{"--volatile=overlay"}, "echo o > /w && cat /w", "o\n"},
		{"ephemeral in a user namespace", usersEnv, []string{"-x", "-U"}, "echo u > /w && stat -c %u /w /bin/busybox", "0\n0\n"},
		{"volatile in a user namespace", usersEnv, []string{"--volatile=overlay", "-U"}, "echo u > /w && stat -c %u /w", "0\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-q", "--pipe", "--register=no", "-M", machineName(t, "rawtmp"), "-i", raw}, tc.args...)
			r := nspawn(t, tc.env, append(args, "/bin/sh", "-c", tc.script)...)
			if r.code != 0 || r.stdout != tc.want {
				t.Errorf("exit %d, stdout %q, stderr %q; want 0, %q", r.code, r.stdout, r.stderr, tc.want)
			}
			if fileSum(t, raw) != before {
				t.Errorf("the run changed the image file")
			}
		})
	}
}
