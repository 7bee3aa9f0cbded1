package supervisor

import (
	"os"
	"os/exec"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// statLine is a /proc/PID/stat line of a process named "a) b" (a name
// may hold ')' and spaces), state S, started at 12345 ticks.
const statLine = "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000 10 18446744073709551615\n"

// TestParseStat checks the state and start time read from /proc/PID/stat
// lines, and that malformed or cut lines are refused.
func TestParseStat(t *testing.T) {
	type result struct {
		State byte
		Start uint64
		OK    bool
	}
	tests := []struct {
		name string
		line string
		want result
	}{
		{"whole", statLine, result{'S', 12345, true}},
		{"zombie", "7 (x) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0\n", result{'Z', 99, true}},
		{"cut short", statLine[:60], result{}},
		{"no newline", statLine[:len(statLine)-1], result{}},
		{"no command", "42 S 1\n", result{}},
		{"too few fields", "42 (a) S 1 2 3\n", result{}},
		{"bad start", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9x9 0\n", result{}},
		{"start overflows", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99999999999999999999 0\n", result{}},
		{"empty", "", result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got result
			got.State, got.Start, got.OK = parseStat([]byte(tt.line))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseStat(%q) (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

// FuzzParseStat checks that no line makes parseStat panic.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte(statLine))
	f.Add([]byte("7 (x) Z 1\n"))
	f.Add([]byte(")\n"))
	f.Fuzz(func(t *testing.T, b []byte) { parseStat(b) })
}

// TestProcStat checks procStat against a live process, a zombie and a
// process that is gone.
func TestProcStat(t *testing.T) {
	state, start, err := procStat(os.Getpid())
	if err != nil || (state != 'R' && state != 'S') || start == 0 {
		t.Fatalf("procStat(self) = %c, %d, %v", state, start, err)
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	for state, _, err = procStat(pid); err == nil && state != 'Z'; state, _, err = procStat(pid) {
	}
	if err != nil {
		t.Fatalf("procStat(unreaped child): %v", err)
	}
	_ = cmd.Wait()
	if _, _, err := procStat(pid); err == nil {
		t.Errorf("procStat of reaped %d succeeded", pid)
	}
}

// BenchmarkProcStat measures one check of a process's identity.
func BenchmarkProcStat(b *testing.B) {
	pid := os.Getpid()
	for b.Loop() {
		if _, _, err := procStat(pid); err != nil {
			b.Fatal(err)
		}
	}
}
