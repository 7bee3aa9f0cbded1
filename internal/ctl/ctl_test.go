package ctl

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in   string
		want int32
		ok   bool
	}{
		{"SIGTERM", 15, true},
		{"TERM", 15, true},
		{"term", 0, false},
		{"9", 9, true},
		{"SIGRTMIN+4", 38, true},
		{"RTMIN+3", 37, true},
		{"SIGFOO", 0, false},
		{"0", 0, false},
		{"65", 0, false},
		{"RTMIN+31", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, err := parseSignal(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSignal(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestClientImportsNoKernelOrDaemonCode proves berthctl can only do what a
// bus client can do.
func TestClientImportsNoKernelOrDaemonCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/berth-dev/berth/client/berthctl").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{
		"golang.org/x/sys/unix", "github.com/vishvananda/", "github.com/mdlayher/",
		"github.com/google/nftables", "github.com/insomniacslk/", "github.com/berth-dev/berth/daemon/",
	}
	allowedInternal := map[string]bool{
		"github.com/berth-dev/berth/internal/berthapi":  true, // the bus's reply types only
		"github.com/berth-dev/berth/internal/ctl":       true,
		"github.com/berth-dev/berth/internal/ctl/early": true, // the one-call verbs in C, bus protocol only
		"github.com/berth-dev/berth/internal/names":     true,
		"github.com/berth-dev/berth/internal/signame":   true,
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("berthctl depends on %s", pkg)
			}
		}
		if strings.HasPrefix(pkg, "github.com/berth-dev/berth/internal/") && !allowedInternal[pkg] {
			t.Errorf("berthctl depends on internal package %s", pkg)
		}
	}
}

func TestUnknownCommandFails(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Execute([]string{"frobnicate"}, &out, &errOut); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "unknown command") {
		t.Errorf("stderr = %q", errOut.String())
	}
}
