package machine_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/berth-dev/berth/internal/machine"
	"github.com/berth-dev/berth/internal/testbed"
)

// gone reports whether pid has exited (or is a zombie).
func gone(pid uint32) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) < i+3 || s[i+2] == 'Z'
}

func newRegistry(t *testing.T) *machine.Registry {
	t.Helper()
	r, err := machine.New(machine.Options{Paths: testbed.Paths(t), StopTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIntegrationCgroup checks that a process anywhere in a machine's own
// cgroup maps to the machine (GetMachineByPID) and that Kill "all" reaches
// every process of the group, not only the leader, while Kill "leader"
// reaches only the leader.
func TestIntegrationCgroup(t *testing.T) {
	testbed.RequireRoot(t)
	for _, tc := range []struct {
		who      string
		sig      syscall.Signal
		wantGone [3]bool // leader, child1, child2
	}{
		{machine.KillAll, syscall.SIGTERM, [3]bool{true, true, true}},
		{machine.KillAll, syscall.SIGKILL, [3]bool{true, true, true}},
		{"", syscall.SIGKILL, [3]bool{true, true, true}},
		{machine.KillLeader, syscall.SIGKILL, [3]bool{true, false, false}},
	} {
		t.Run(fmt.Sprintf("%s-%d", tc.who, tc.sig), func(t *testing.T) {
			g := testbed.StartGroup(t, 2)
			r := newRegistry(t)
			leader := uint32(g.Leader.Process.Pid)
			if _, err := r.Register(machine.Spec{Name: "cg", Class: machine.ClassContainer, Leader: leader}); err != nil {
				t.Fatal(err)
			}
			for _, pid := range []uint32{leader, g.Children[0], g.Children[1]} {
				m, err := r.ByPID(pid)
				if err != nil || m.Name != "cg" {
					t.Errorf("ByPID(%d) = %q, %v; want cg", pid, m.Name, err)
				}
			}
			if _, err := r.ByPID(uint32(os.Getpid())); !errors.Is(err, machine.ErrNoMachineForPID) {
				t.Errorf("ByPID(test) = %v, want ErrNoMachineForPID", err)
			}
			if err := r.Kill("cg", tc.who, int32(tc.sig)); err != nil {
				t.Fatal(err)
			}
			pids := []uint32{leader, g.Children[0], g.Children[1]}
			eventually(t, "signalled processes to exit", func() bool {
				for i, pid := range pids {
					if tc.wantGone[i] && !gone(pid) {
						return false
					}
				}
				return true
			})
			var got [3]bool
			for i, pid := range pids {
				got[i] = gone(pid)
			}
			if diff := cmp.Diff(tc.wantGone, got); diff != "" {
				t.Errorf("exited (-want +got):\n%s", diff)
			}
			eventually(t, "the machine to go with its leader", func() bool { return r.Len() == 0 })
		})
	}
}

// TestIntegrationSharedCgroup checks that a leader in berthd's own cgroup
// never makes Kill "all" signal that group: only the leader is hit.
func TestIntegrationSharedCgroup(t *testing.T) {
	testbed.RequireRoot(t)
	r := newRegistry(t)
	bystander := exec.Command("sleep", "1000")
	leader := exec.Command("sleep", "1000")
	for _, c := range []*exec.Cmd{bystander, leader} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	}
	if _, err := r.Register(machine.Spec{Name: "shared", Class: machine.ClassContainer, Leader: uint32(leader.Process.Pid)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ByPID(uint32(bystander.Process.Pid)); !errors.Is(err, machine.ErrNoMachineForPID) {
		t.Errorf("ByPID(bystander) = %v, want ErrNoMachineForPID", err)
	}
	if err := r.Kill("shared", machine.KillAll, int32(syscall.SIGKILL)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the machine to go with its leader", func() bool { return r.Len() == 0 })
	if gone(uint32(bystander.Process.Pid)) {
		t.Error("Kill all hit a process that merely shares berthd's cgroup")
	}
}

// TestIntegrationManyLeaders registers many machines (all watched by one
// epoll set) and checks that each goes away exactly when its leader exits.
func TestIntegrationManyLeaders(t *testing.T) {
	testbed.RequireRoot(t)
	r := newRegistry(t)
	const n = 50
	var cmds []*exec.Cmd
	for i := range n {
		c := exec.Command("sleep", "1000")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
		cmds = append(cmds, c)
		if _, err := r.Register(machine.Spec{Name: fmt.Sprintf("m%d", i), Class: machine.ClassContainer, Leader: uint32(c.Process.Pid)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i += 2 {
		_ = cmds[i].Process.Kill()
		_ = cmds[i].Wait()
	}
	eventually(t, "half the machines to go", func() bool { return r.Len() == n/2 })
	var left []string
	for _, m := range r.List() {
		if m.Name != machine.HostName {
			left = append(left, m.Name)
		}
	}
	var want []string
	for i := 1; i < n; i += 2 {
		want = append(want, fmt.Sprintf("m%d", i))
	}
	if diff := cmp.Diff(want, left, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("machines left (-want +got):\n%s", diff)
	}
}
