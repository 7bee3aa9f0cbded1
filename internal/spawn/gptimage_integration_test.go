package spawn_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
)

// gptDisk writes a disk image partitioned by sfdisk with script (1 MiB
// partitions and a 32 MiB second one), with the ext4 file system fs
// copied into its second partition.
func gptDisk(t *testing.T, script string, fs []byte) string {
	t.Helper()
	sfdisk := testbed.RequireTool(t, "sfdisk")
	disk := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(40 << 20); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sfdisk, "--no-reread", "--no-tell-kernel", "-q", disk)
	cmd.Stdin = strings.NewReader("label: gpt\n" + script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	if _, err := f.WriteAt(fs, 2<<20); err != nil {
		t.Fatal(err)
	}
	return disk
}

func TestIntegrationRawImagePartitioned(t *testing.T) {
	testbed.RequireRoot(t)
	mkfs := testbed.RequireTool(t, "mkfs.ext4")
	img := testbed.BusyboxImage(t)
	writeFile(t, filepath.Join(img, "marker"), "in the root partition\n")
	fsPath := filepath.Join(t.TempDir(), "root.ext4")
	if out, err := exec.Command(mkfs, "-q", "-d", img, fsPath, "32M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v: %s", err, out)
	}
	fs, err := os.ReadFile(fsPath)
	if err != nil {
		t.Fatal(err)
	}
	const (
		esp    = "type=c12a7328-f81f-11d2-ba4b-00a0c93ec93b, size=1MiB\n"
		root   = "type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, size=32MiB"
		linux  = "type=0fc63daf-8483-4772-8e79-3d69d8477de4, size=32MiB\n"
		script = "cat /marker; echo kept > /kept && cat /kept || echo refused"
	)
	tests := []struct {
		name, table, want, stderr string
		code                      int
	}{
		{name: "root partition of this architecture", table: esp + root + "\n", want: "in the root partition\nkept\n"},
		{name: "single Linux partition", table: esp + linux, want: "in the root partition\nkept\n"},
		{name: "root partition marked read-only", table: esp + root + `, attrs="GUID:60"` + "\n", want: "in the root partition\nrefused\n"},
		{name: "no root partition", table: esp + "type=c12a7328-f81f-11d2-ba4b-00a0c93ec93b, size=32MiB\n", code: 1, stderr: "no root partition"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			disk := gptDisk(t, tc.table, fs)
			r := nspawn(t, nil, "-q", "--pipe", "--register=no", "-M", machineName(t, "gpt"), "-i", disk, "/bin/sh", "-c", script)
			if r.code != tc.code || r.stdout != tc.want || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", r.code, r.stdout, r.stderr, tc.code, tc.want, tc.stderr)
			}
		})
	}
}
