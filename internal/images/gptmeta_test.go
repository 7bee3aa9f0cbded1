package images

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationPartitionedRawMetadata reads the metadata of a raw image
// with a GUID partition table from its root partition.
func TestIntegrationPartitionedRawMetadata(t *testing.T) {
	testbed.RequireRoot(t)
	mkfs := testbed.RequireTool(t, "mkfs.ext4")
	sfdisk := testbed.RequireTool(t, "sfdisk")
	p := testbed.Paths(t)
	content := filepath.Join(t.TempDir(), "content")
	writeFile(t, filepath.Join(content, "etc/hostname"), "gptbox\n", 0o644)
	writeFile(t, filepath.Join(content, "etc/os-release"), "ID=gpt\n", 0o644)
	fs := filepath.Join(t.TempDir(), "root.ext4")
	run(t, mkfs, "-q", "-d", content, fs, "8M")
	data, err := os.ReadFile(fs)
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(p.Pool, "gptdisk.raw")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(16 << 20); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sfdisk, "--no-reread", "--no-tell-kernel", "-q", img)
	cmd.Stdin = strings.NewReader("label: gpt\ntype=c12a7328-f81f-11d2-ba4b-00a0c93ec93b, size=1MiB\ntype=0fc63daf-8483-4772-8e79-3d69d8477de4, size=8MiB\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	if _, err := f.WriteAt(data, 2<<20); err != nil {
		t.Fatal(err)
	}
	md, err := New(p).Metadata("gptdisk")
	if err != nil {
		t.Fatal(err)
	}
	want := Metadata{Hostname: "gptbox", MachineInfo: map[string]string{}, OSRelease: map[string]string{"ID": "gpt"}}
	if diff := cmp.Diff(want, md); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
}
