package ctl

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/testbed"
)

// result is what one berthctl run printed and returned.
type result struct {
	Out, Err string
	Code     int
}

// ctlTraced runs berthctl with GODEBUG=inittrace=1 and reports whether
// its Go program ran (the Go runtime then traces its package inits on
// stderr, which are left out of the result).
func (b *bed) ctlTraced(t *testing.T, addr string, args ...string) (result, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", testbed.SystemBusEnv + "=" + addr, "GODEBUG=inittrace=1"}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{Out: out.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	case err != nil:
		t.Fatalf("berthctl %v: %v", args, err)
	}
	ranGo := false
	for _, line := range strings.SplitAfter(errOut.String(), "\n") {
		if strings.HasPrefix(line, "init ") {
			ranGo = true
			continue
		}
		r.Err += line
	}
	return r, ranGo
}

// TestIntegrationEarlyPath checks that berthctl's one-call verbs run
// before the Go runtime starts (package early) and answer as the Go
// commands do (taken here because of --bus-name): the same output and
// exit code for a machine that starts, one that runs already, missing
// machines and bad input for every verb, and a start of several machines
// that stops at the first failure. A bus address the early path leaves
// to Go (an escaped path) still works, through Go.
func TestIntegrationEarlyPath(t *testing.T) {
	b := newBed(t)
	good, second := randomName("quick-"), randomName("quick-")
	b.image(t, good)
	b.image(t, second)
	run := func(general bool, args ...string) result {
		if general {
			args = append([]string{"--bus-name=org.freedesktop.machine1"}, args...)
		}
		r, ranGo := b.ctlTraced(t, b.bus.Address, args...)
		if ranGo != general {
			t.Errorf("berthctl %q: the Go program ran: %v, want %v", args, ranGo, general)
		}
		return r
	}
	if got := run(false, "start", good); got != (result{}) {
		t.Fatalf("early start: %+v\nberthd: %s", got, b.d.Log())
	}
	for _, args := range [][]string{
		{"start", good},
		{"start", "missing-image"},
		{"start", "bad/name"},
		{"start", "missing-image", second},
		{"reboot", "missing"},
		{"reboot", "bad/name"},
		{"poweroff", "missing"},
		{"poweroff", "--force", "missing", good},
		{"terminate", "missing"},
		{"terminate", "bad/name"},
	} {
		early, general := run(false, args...), run(true, args...)
		if diff := cmp.Diff(general, early); diff != "" || early.Code != 1 {
			t.Errorf("berthctl %q: exit %d; early vs Go path (-go +early):\n%s", args, early.Code, diff)
		}
	}
	if got := run(false, "poweroff", "--force", good); got != (result{}) {
		t.Errorf("poweroff: %+v", got)
	}
	if got := run(true, "poweroff", second); got.Code == 0 {
		t.Errorf("%s started after the failure of the machine before it: %+v", second, got)
	}
	escaped := strings.Replace(b.bus.Address, "/", "%2f", 1)
	if got, ranGo := b.ctlTraced(t, escaped, "start", good); got != (result{}) || !ranGo {
		t.Errorf("start over %q: %+v, Go program ran: %v", escaped, got, ranGo)
	}
	b.ok(t, "terminate", good)
}
