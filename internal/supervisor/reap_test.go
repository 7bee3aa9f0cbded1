package supervisor

import (
	"os/exec"
	"testing"
	"time"
)

// TestReap checks that reap collects a child's exit status, whether the
// child exits after reap was called or had exited (a zombie) before.
func TestReap(t *testing.T) {
	for _, exitFirst := range []bool{false, true} {
		cmd := exec.Command("cat")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		if exitFirst {
			stdin.Close()
			for state, _, err := procStat(pid); err == nil && state != 'Z'; state, _, err = procStat(pid) {
				time.Sleep(time.Millisecond)
			}
		}
		reap(cmd)
		if !exitFirst {
			time.Sleep(10 * time.Millisecond)
			if state, _, err := procStat(pid); err != nil || state == 'Z' {
				t.Fatalf("pid %d gone or reaped before it exited: %c %v", pid, state, err)
			}
			stdin.Close()
		}
		// Reaped, /proc/PID goes away; a zombie keeps it.
		for _, _, err := procStat(pid); err == nil; _, _, err = procStat(pid) {
			time.Sleep(time.Millisecond)
		}
	}
}
