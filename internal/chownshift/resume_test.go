package chownshift

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
)

// childEnv makes the test binary shift the tree named by the variable to
// the base in childEnv_TO, print "started" after the first progress report
// and then stop there, waiting to be killed.
const childEnv = "BERTH_CHOWNSHIFT_CHILD"

func TestMain(m *testing.M) {
	if root := os.Getenv(childEnv); root != "" {
		to, _ := strconv.ParseUint(os.Getenv(childEnv+"_TO"), 0, 32)
		_, err := Shift(root, uint32(to), Options{Progress: func(Progress) {
			fmt.Println("started")
			select {}
		}})
		fmt.Println("finished:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// countOwners counts the entries below root (root excluded) by owner.
func countOwners(t *testing.T, root string) map[uint32]int {
	t.Helper()
	out := map[uint32]int{}
	err := filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		out[st.Uid]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIntegrationShiftKilledIsCompleted(t *testing.T) {
	testbed.RequireRoot(t)
	root := t.TempDir()
	const dirs, files, base = 200, 1000, 0xA0000
	testbed.ManyFiles(t, root, dirs, files)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+root, fmt.Sprintf("%s_TO=%d", childEnv, base))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	_ = cmd.Process.Signal(unix.SIGKILL)
	_ = cmd.Wait()
	if line != "started\n" {
		t.Fatalf("child said %q", line)
	}
	state, err := Detect(root)
	if err != nil || !state.Busy {
		t.Fatalf("after SIGKILL: state %+v, %v; want busy", state, err)
	}
	half := countOwners(t, root)
	if half[base] == 0 || half[0] == 0 {
		t.Fatalf("kill did not land half way: owners %v", half)
	}
	res, err := Shift(root, base, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || !res.Changed || res.From != BusyBase {
		t.Errorf("result %+v, want a resumed shift", res)
	}
	if got := countOwners(t, root); len(got) != 1 || got[base] != dirs*(files+1) {
		t.Errorf("owners after completion: %v, want all %d entries at %#x", got, dirs*(files+1), base)
	}
	if state, err := Detect(root); err != nil || state != (State{Shift: base}) {
		t.Errorf("final state %+v, %v", state, err)
	}
}
