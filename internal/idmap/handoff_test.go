package idmap

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/berth-dev/berth/internal/uidrange"
)

// childEnv makes the test binary attach the detached tree it gets as fd 3
// on the directory named by the variable, in its own mount namespace, and
// print the owner of "file" below it.
const childEnv = "BERTH_IDMAP_CHILD"

func TestMain(m *testing.M) {
	if target := os.Getenv(childEnv); target != "" {
		os.Exit(attachChild(target))
	}
	os.Exit(m.Run())
}

func attachChild(target string) int {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if err := TreeFromFile(os.NewFile(3, "tree")).Attach(target); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(target, "file"), &st); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println(st.Uid)
	return 0
}

func TestIntegrationTreeHandoff(t *testing.T) {
	testbed.RequireRoot(t)
	src, target := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := uidrange.Range{Base: 0xC0000, Size: uidrange.Size}
	ns, err := NewUserNS(RootMappings(r), RootMappings(r))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	tree, err := IdmappedClone(src, ns, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+target)
	cmd.ExtraFiles = []*os.File{tree.File()}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != fmt.Sprint(r.Base) {
		t.Errorf("file in the tree attached by the child owned by %s, want %d", got, r.Base)
	}
	if _, err := os.Stat(filepath.Join(target, "file")); err == nil {
		t.Error("the child's mount leaked into the host's mount namespace")
	}
}
