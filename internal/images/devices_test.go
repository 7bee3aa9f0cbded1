package images

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
)

func TestIntegrationReadOnlyFileSystem(t *testing.T) {
	testbed.RequireRoot(t)
	p := testbed.Paths(t)
	mnt := testbed.LoopFS(t, "ext4", 16<<20)
	p.ImageDirs[0] = mnt
	mkdirs(t, filepath.Join(mnt, "img", "etc"))
	if out, err := exec.Command("mount", "-o", "remount,ro", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v: %s", err, out)
	}
	m := New(p)
	img, err := m.Find("img")
	if err != nil {
		t.Fatal(err)
	}
	if !img.ReadOnly {
		t.Errorf("image on a read-only file system is not read-only")
	}
	if err := m.Remove("img"); !errors.Is(err, unix.EROFS) {
		t.Errorf("remove on a read-only file system: %v, want EROFS", err)
	}
}

func TestIntegrationBlockImage(t *testing.T) {
	testbed.RequireRoot(t)
	mkfs := testbed.RequireTool(t, "mkfs.ext4")
	p := testbed.Paths(t)
	content := filepath.Join(t.TempDir(), "content")
	writeFile(t, filepath.Join(content, "etc/hostname"), "blockbox\n", 0o644)
	file := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(16 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	run(t, mkfs, "-q", "-d", content, file)
	loop, dev, err := attachLoop(file)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(loop)
	if err := os.Symlink(dev, filepath.Join(p.Pool, "blk")); err != nil {
		t.Fatal(err)
	}
	m := New(p)
	img, err := m.Find("blk")
	if err != nil {
		t.Fatal(err)
	}
	if img.Type != Block || !img.ReadOnly || !img.Symlink {
		t.Errorf("block image = %+v, want a read-only block device behind a symlink", img)
	}
	md, err := m.Metadata("blk")
	if err != nil || md.Hostname != "blockbox" {
		t.Errorf("metadata = %+v, %v", md, err)
	}
	if err := m.MarkReadOnly("blk", false); !errors.Is(err, ErrSymlink) {
		t.Errorf("mark read-only through a symlink: %v", err)
	}
	if err := m.Remove("blk"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dev); err != nil {
		t.Errorf("remove went through the symlink to %s: %v", dev, err)
	}
}
