package supervisor

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitSpare waits until the supervisor has a spare monitor and returns
// its PID and start time.
func (b *bed) waitSpare(t *testing.T) (int, uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b.s.mu.Lock()
		m := b.s.spare
		b.s.mu.Unlock()
		if m != nil {
			pid := m.cmd.Process.Pid
			_, start, err := procStat(pid)
			if err != nil {
				t.Fatal(err)
			}
			return pid, start
		}
		if time.Now().After(deadline) {
			t.Fatal("no spare monitor")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIntegrationSpareMonitor checks the spare monitor: a start hands the
// unit to it (the unit's monitor is the spare's process, with its output
// going to the machine's log), the supervisor then starts another spare;
// a spare that died is passed over; Close ends the spare.
func TestIntegrationSpareMonitor(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	spare, _ := b.waitSpare(t)
	u := b.unit("spare", "sleep", "1000")
	if err := b.s.Start(ctx, u); err != nil {
		t.Fatal(err)
	}
	st := b.state(t, u.Name)
	if st.MonitorPID != spare {
		t.Errorf("monitor %d, want the spare %d", st.MonitorPID, spare)
	}
	for _, fd := range []int{1, 2} {
		if out, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", st.MonitorPID, fd)); err != nil || out != st.Log {
			t.Errorf("monitor's fd %d is %q (%v), want the log %s", fd, out, err, st.Log)
		}
	}

	dead, deadStart := b.waitSpare(t)
	if dead == spare {
		t.Fatal("no new spare after the start")
	}
	if err := unix.Kill(dead, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(dead, deadStart, 30*time.Second)
	u2 := b.unit("spare2", "sleep", "1000")
	if err := b.s.Start(ctx, u2); err != nil {
		t.Fatalf("start after the spare died: %v", err)
	}
	if st2 := b.state(t, u2.Name); st2.MonitorPID == dead || st2.State != Active {
		t.Errorf("after the spare died: %+v", st2)
	}
	for _, unit := range []string{u.Name, u2.Name} {
		if err := b.s.Stop(ctx, unit, StopOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	last, lastStart := b.waitSpare(t)
	b.s.Close()
	if !waitGone(last, lastStart, 30*time.Second) {
		t.Error("the spare outlived Close")
	}
	if err := b.s.Start(ctx, u); err != nil {
		t.Fatalf("start after Close: %v", err)
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if b.s.spare != nil || b.s.refilling {
		t.Error("a closed supervisor started a spare")
	}
}
