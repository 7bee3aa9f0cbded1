package ctl

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIntegrationBerthctlNetwork starts a machine and runs the network
// verbs on it: its ve-* link in links, diagnose (a busybox guest asks for
// no lease, so berthd may report no-lease; either way the exit status
// follows the findings), and a persistent port forward added, listed and
// removed.
func TestIntegrationBerthctlNetwork(t *testing.T) {
	b := newBed(t)
	name := randomName("net-")
	b.image(t, name)
	b.ok(t, "start", name)
	t.Cleanup(func() { b.ctl(t, "poweroff", "--force", name) })
	eventually(t, "the machine's link", func() bool { return strings.Contains(b.ok(t, "links"), "ve-") })
	if out := b.ok(t, "links", "--no-legend"); strings.Contains(out, "LINK") || strings.Contains(out, "listed") {
		t.Errorf("links --no-legend prints a legend:\n%s", out)
	}
	out, errOut, code := b.ctl(t, "diagnose", name)
	switch {
	case code == 0 && !strings.Contains(out, "no problems found"):
		t.Errorf("diagnose exit 0 without saying so:\n%s", out)
	case code == 1 && (out == "" || !strings.Contains(errOut, "has problems")):
		t.Errorf("diagnose exit 1: stdout %q stderr %q", out, errOut)
	case code != 0 && code != 1:
		t.Errorf("diagnose exit %d: %s%s", code, out, errOut)
	}
	t.Logf("diagnose (exit %d):\n%s", code, out)

	b.ok(t, "port-add", name, "udp", "8053", "53")
	b.ok(t, "port-add", name, "8080", "80")
	got := fieldsOf(b.ok(t, "ports", "--no-legend"))
	want := [][]string{
		{name, "tcp", "8080", "80", "-", "-", "true"},
		{name, "udp", "8053", "53", "-", "-", "true"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	b.ok(t, "port-remove", name, "8080")
	b.ok(t, "port-remove", name, "udp", "8053")
	if out := b.ok(t, "ports"); strings.Contains(out, name) {
		t.Errorf("ports after port-remove:\n%s", out)
	}
}

// TestIntegrationBerthctlNetworkBadInput checks that the network verbs fail
// with exit status 1 and a message naming the problem.
func TestIntegrationBerthctlNetworkBadInput(t *testing.T) {
	b := newBed(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"diagnose", "no-such-machine"}, "org.freedesktop.machine1.NoSuchMachine"},
		{[]string{"diagnose"}, "accepts 1 arg"},
		{[]string{"port-add", "m", "sctp", "80", "80"}, `protocol "sctp"`},
		{[]string{"port-add", "m", "0", "80"}, `port "0"`},
		{[]string{"port-add", "bad/name", "80", "80"}, "org.freedesktop.DBus.Error.InvalidArgs"},
		{[]string{"port-remove", "m", "tcp", "81"}, "org.freedesktop.DBus.Error.FileNotFound"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, code := b.ctl(t, tt.args...)
			if code != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut, tt.want)
			}
		})
	}
}

// fieldsOf splits table output into the fields of each line.
func fieldsOf(out string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows = append(rows, f)
		}
	}
	return rows
}
