package containercgroup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
)

// unifiedRoot returns a cgroup2 mount to test on: the host's own root on a
// pure v2 host, or the v2 mount of a hybrid host (which Detect then sees
// as a pure v2 root, so both layouts are covered on either host).
func unifiedRoot(t *testing.T) string {
	t.Helper()
	testbed.RequireRoot(t)
	mode, mnt := Detect("/sys/fs/cgroup")
	if mode == None {
		testbed.Unavailable(t, "no cgroup2 hierarchy")
	}
	return mnt
}

func TestIntegrationCreateAddRemove(t *testing.T) {
	for _, root := range []string{"/sys/fs/cgroup", unifiedRoot(t)} {
		t.Run(root, func(t *testing.T) {
			g, err := Create(Options{Root: root, Machine: "t-cg-1"})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(g.Path, `machine.slice/machine-t\x2dcg\x2d1.scope`) {
				t.Errorf("group %s, want the machine scope", g.Path)
			}
			cmd := exec.Command("sleep", "30")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if err := Add(g.Path, cmd.Process.Pid); err != nil {
				t.Fatal(err)
			}
			if got, _ := PathOf(cmd.Process.Pid); !strings.HasSuffix(g.Path, got) {
				t.Errorf("process in %s, want %s", got, g.Path)
			}
			if _, err := Create(Options{Root: root, Machine: "t-cg-1"}); err == nil {
				t.Errorf("a second group of a running machine was created")
			}
			_ = os.Mkdir(filepath.Join(g.Path, "guest-made"), 0o755) // as a booted init does
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if err := g.Remove(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(g.Path); err == nil {
				t.Errorf("%s still exists", g.Path)
			}
		})
	}
}

func TestIntegrationStaleGroupIsReused(t *testing.T) {
	root := unifiedRoot(t)
	g, err := Create(Options{Root: root, Machine: "t-cg-stale"})
	if err != nil {
		t.Fatal(err)
	}
	// The spawner was killed: the empty group stays behind.
	g2, err := Create(Options{Root: root, Machine: "t-cg-stale"})
	if err != nil {
		t.Fatalf("stale group not reused: %v", err)
	}
	if g2.Path != g.Path {
		t.Errorf("paths differ: %s, %s", g.Path, g2.Path)
	}
	if err := g2.Remove(); err != nil {
		t.Fatal(err)
	}
}
