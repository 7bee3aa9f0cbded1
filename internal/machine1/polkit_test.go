package machine1_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// polkitPolicy lets the test own polkit's name and everyone call it, as
// polkit's own bus policy does.
const polkitPolicy = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root"><allow own="org.freedesktop.PolicyKit1"/></policy>
  <policy context="default"><allow send_destination="org.freedesktop.PolicyKit1"/></policy>
</busconfig>
`

// authority is a polkit authority on the test bus that allows exactly one
// action, answers "only after authentication" for another and records
// every question.
type authority struct {
	allow, challenge string
	mu               sync.Mutex
	// asked is guarded by mu: "kind name action details" per call.
	asked []string
}

type subject struct {
	Kind    string
	Details map[string]dbus.Variant
}

type authResult struct {
	Authorized, Challenge bool
	Details               map[string]string
}

// CheckAuthorization is polkit's method, fake at the wire.
func (a *authority) CheckAuthorization(s subject, action string, details map[string]string, _ uint32, _ string) (authResult, *dbus.Error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, fmt.Sprintf("%s %v %s %s=%s %s=%s", s.Kind, s.Details["name"].Value(), action,
		"machine", details["machine"], "image", details["image"])+" verb="+details["verb"])
	return authResult{Authorized: action == a.allow, Challenge: action == a.challenge, Details: map[string]string{}}, nil
}

// TestIntegrationPolkit checks polkit as an addition to root: with an
// authority that allows manage-machines, wants authentication for
// manage-images and denies the rest, an unprivileged caller may terminate
// a machine, must authenticate to remove an image and may not log in; the
// subject is the caller's unique bus name, never a PID, and the details
// name the machine or image and the verb.
func TestIntegrationPolkit(t *testing.T) {
	testbed.RequireRoot(t)
	extra := filepath.Join(t.TempDir(), "polkit.conf")
	if err := os.WriteFile(extra, []byte(polkitPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	bus := testbed.StartBus(t, extra)
	auth := &authority{allow: "org.freedesktop.machine1.manage-machines", challenge: "org.freedesktop.machine1.manage-images"}
	conn := bus.Conn(t)
	if err := conn.Export(auth, "/org/freedesktop/PolicyKit1/Authority", "org.freedesktop.PolicyKit1.Authority"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.RequestName("org.freedesktop.PolicyKit1", dbus.NameFlagDoNotQueue); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(paths.Under(root).Pool, "img1"), 0o755); err != nil {
		t.Fatal(err)
	}
	startBerthd(t, bus, root)
	victim := startLeader(t)
	register(t, "victim", victim.PID, "")
	signals := watchSignals(t, bus)
	bin := worldExecutable(t)
	for method, want := range map[string]string{
		mgr + "RemoveImage":      "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
		mgr + "OpenMachineLogin": "org.freedesktop.DBus.Error.AccessDenied",
		mgr + "TerminateMachine": "OK",
	} {
		if got := asUser(t, bin, 65534, fmt.Sprintf("m:%d", mutatingIndex(t, method))); got != want {
			t.Errorf("%s as nobody with polkit = %s, want %s", method, got, want)
		}
	}
	signals.expect(t, "MachineRemoved victim")
	auth.mu.Lock()
	defer auth.mu.Unlock()
	var got []string
	for _, q := range auth.asked {
		rest, ok := strings.CutPrefix(q, "system-bus-name :")
		if !ok {
			t.Errorf("polkit subject is not a unique bus name: %q", q)
			continue
		}
		_, rest, _ = strings.Cut(rest, " ")
		got = append(got, rest)
	}
	want := []string{
		"org.freedesktop.machine1.login machine=victim image= verb=open_login",
		"org.freedesktop.machine1.manage-images machine= image=img1 verb=remove",
		"org.freedesktop.machine1.manage-machines machine=victim image= verb=terminate",
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("polkit questions (-want +got):\n%s", diff)
	}
}

func mutatingIndex(t *testing.T, method string) int {
	t.Helper()
	for i, c := range mutating {
		if c.method == method && c.path == "/org/freedesktop/machine1" {
			return i
		}
	}
	t.Fatalf("no mutating call %s", method)
	return -1
}
