package signame

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"SIGTERM", 15, true},
		{"TERM", 15, true},
		{"SIGKILL", 9, true},
		{"SIGRTMIN", 34, true},
		{"SIGRTMIN+3", 37, true},
		{"RTMIN+4", 38, true},
		{"SIGRTMAX", 64, true},
		{"SIGRTMAX-1", 63, true},
		{"SIGRTMIN+30", 64, true},
		{"9", 9, true},
		{"64", 64, true},
		{"term", 0, false},
		{"SIGFOO", 0, false},
		{"0", 0, false},
		{"65", 0, false},
		{"-1", 0, false},
		{"SIGRTMIN+31", 0, false},
		{"SIGRTMIN-1", 0, false},
		{"SIGRTMAX+1", 0, false},
		{"SIGRTMIN+", 0, false},
		{"SIGRTMIN+03", 0, false},
		{"SIGRTMIN++3", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, err := Parse(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrUnknown) {
			t.Errorf("Parse(%q) error %v does not wrap ErrUnknown", tc.in, err)
		}
	}
}

func TestNameRoundTrip(t *testing.T) {
	for n := 1; n <= RTMax; n++ {
		got, err := Parse(Name(n))
		if err != nil || got != n {
			t.Errorf("Parse(Name(%d) = %q) = %d, %v", n, Name(n), got, err)
		}
	}
	for n, want := range map[int]string{15: "SIGTERM", 34: "SIGRTMIN", 38: "SIGRTMIN+4", 32: "32", 0: "0"} {
		if got := Name(n); got != want {
			t.Errorf("Name(%d) = %q, want %q", n, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"SIGTERM", "RTMIN+3", "SIGRTMAX-1", "64", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err == nil && (n < 1 || n > RTMax) {
			t.Fatalf("Parse(%q) = %d", s, n)
		}
	})
}
