package testbed

import (
	"testing"
	"time"
)

func TestTimingsMedian(t *testing.T) {
	tests := []struct {
		in   Timings
		want time.Duration
	}{
		{nil, 0},
		{Timings{3}, 3},
		{Timings{5, 1, 3}, 3},
		{Timings{4, 1, 3, 2}, 3},
	}
	for _, tc := range tests {
		if got := tc.in.Median(); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := (Timings{2 * time.Millisecond}).MedianMS(); got != 2 {
		t.Errorf("MedianMS = %v, want 2", got)
	}
}
