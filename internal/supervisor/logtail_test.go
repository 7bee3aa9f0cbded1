package supervisor

import (
	"strings"
	"testing"
)

func TestLastOutput(t *testing.T) {
	long := strings.Repeat("x", 600)
	tests := []struct {
		name, log string
		from      int64
		want      string
	}{
		{"empty", "", 0, ""},
		{"last line", "one\ntwo\n", 0, "two"},
		{"no final newline", "one\ntwo", 0, "two"},
		{"monitor lines skipped", "oops\n" + monitorPrefix + "x exited\n\n", 0, "oops"},
		{"only the monitor", monitorPrefix + "x exited\n", 0, ""},
		{"before from left out", "old run failed\n" + monitorPrefix + "restarting\n", 15, ""},
		{"from past the end", "a\n", 10, ""},
		{"control characters", "bad \x1b[31mred\x00\n", 0, "bad ?[31mred?"},
		{"invalid UTF-8", "caf\xe9\n", 0, "caf?"},
		{"cut", long + "\n", 0, long[:lineLimit] + "…"},
		{"window", "first\n" + strings.Repeat("\n", tailWindow), 0, ""},
	}
	for _, tt := range tests {
		got := lastOutput(strings.NewReader(tt.log), tt.from, int64(len(tt.log)))
		if got != tt.want {
			t.Errorf("%s: lastOutput = %q, want %q", tt.name, got, tt.want)
		}
	}
}
