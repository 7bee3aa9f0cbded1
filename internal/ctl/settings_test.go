package ctl

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSettings(t *testing.T) {
	tests := []struct {
		args []string
		want map[string]any
		bad  bool
	}{
		{[]string{"MemoryMax=512M", "TasksMax=infinity"}, map[string]any{"MemoryMax": uint64(512 << 20), "TasksMax": ^uint64(0)}, false},
		{[]string{"MemoryMax=1024", "CPUQuota=150%", "CPUWeight=", "IOWeight=10"},
			map[string]any{"MemoryMax": uint64(1024), "CPUQuota": uint64(150), "CPUWeight": uint64(0), "IOWeight": uint64(10)}, false},
		{[]string{"TimeoutStopSec=5s", "PowerOffSignal=SIGUSR2", "KillSignal=15"},
			map[string]any{"TimeoutStopUSec": uint64(5e6), "PowerOffSignal": int32(12), "KillSignal": int32(15)}, false},
		{[]string{"Environment=A=1", "Environment=B=2"}, map[string]any{"Environment": []string{"A=1", "B=2"}}, false},
		{[]string{"Environment="}, map[string]any{"Environment": []string(nil)}, false},
		{[]string{"MemoryMax"}, nil, true},
		{[]string{"Memory=1"}, nil, true},
		{[]string{"MemoryMax=1X"}, nil, true},
		{[]string{"MemoryMax=99999999999T"}, nil, true},
		{[]string{"TimeoutStopSec=-1s"}, nil, true},
		{[]string{"KillSignal=SIGFOO"}, nil, true},
	}
	for _, tt := range tests {
		got, err := parseSettings(tt.args)
		if (err != nil) != tt.bad {
			t.Errorf("parseSettings(%q) error %v, want bad=%v", tt.args, err, tt.bad)
			continue
		}
		if tt.bad {
			continue
		}
		vals := map[string]any{}
		for k, v := range got {
			vals[k] = v.Value()
		}
		if diff := cmp.Diff(tt.want, vals); diff != "" {
			t.Errorf("parseSettings(%q) (-want +got):\n%s", tt.args, diff)
		}
	}
}
