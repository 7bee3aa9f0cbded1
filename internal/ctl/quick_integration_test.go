package ctl

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIntegrationQuickStart checks that `berthctl start` (the quick path)
// answers as the general path does (taken here because of --bus-name):
// the same output and exit code for a machine that starts, one that runs
// already and bad input, and a start of several machines that stops at
// the first failure.
func TestIntegrationQuickStart(t *testing.T) {
	b := newBed(t)
	good, second := randomName("quick-"), randomName("quick-")
	b.image(t, good)
	b.image(t, second)
	type result struct {
		Out, Err string
		Code     int
	}
	run := func(general bool, args ...string) result {
		if general {
			args = append([]string{"--bus-name=org.freedesktop.machine1"}, args...)
		}
		out, errOut, code := b.ctl(t, args...)
		return result{out, errOut, code}
	}
	if got := run(false, "start", good); got.Code != 0 || got.Out != "" || got.Err != "" {
		t.Fatalf("quick start: %+v\nberthd: %s", got, b.d.Log())
	}
	for _, args := range [][]string{
		{"start", good},
		{"start", "missing-image"},
		{"start", "bad/name"},
		{"start", "missing-image", second},
	} {
		quick, general := run(false, args...), run(true, args...)
		if diff := cmp.Diff(general, quick); diff != "" || quick.Code != 1 {
			t.Errorf("berthctl %q: exit %d; quick vs general path (-general +quick):\n%s", args, quick.Code, diff)
		}
	}
	if got := run(false, "poweroff", "--force", good); got.Code != 0 {
		t.Errorf("poweroff: %+v", got)
	}
	if got := run(true, "poweroff", second); got.Code == 0 {
		t.Errorf("%s started after the failure of the machine before it: %+v", second, got)
	}
}
