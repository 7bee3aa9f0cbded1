package dhcpserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
)

// addMacvlans adds n macvlans mv1..mvn on host0 in l's container namespace.
func addMacvlans(t *testing.T, l *testLink, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		mv := fmt.Sprintf("mv%d", i)
		l.ctr.Exec(t, "ip", "link", "add", mv, "link", "host0", "type", "macvlan", "mode", "bridge")
		l.ctr.Exec(t, "ip", "link", "set", mv, "up")
	}
}

// udhcpcOn runs udhcpc on ifname, sending up to tries DISCOVERs, and
// returns the address it got, or "" when it got none.
func udhcpcOn(t *testing.T, l *testLink, ifname string, tries int) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "lease")
	if _, err := runClient(t, l.ctr, testbed.RequireTool(t, "udhcpc"), "-f", "-q", "-n", "-t", strconv.Itoa(tries), "-T", "1",
		"-i", ifname, "-s", clientScript(t, out, false)); err != nil {
		return ""
	}
	ip, _, _ := strings.Cut(strings.TrimPrefix(readLease(t, out), "ip="), " ")
	return ip
}

// udhcpcRelease runs udhcpc on ifname until it is bound (configuring the
// address, so that it can unicast), stops it so that it sends a RELEASE,
// and returns the address it had.
func udhcpcRelease(t *testing.T, l *testLink, ifname string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "lease")
	cmd := l.ctr.Command(testbed.RequireTool(t, "udhcpc"), "-f", "-R", "-t", "10", "-T", "1",
		"-i", ifname, "-s", clientScript(t, out, true))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, err := os.Stat(out); err != nil && time.Now().Before(deadline); _, err = os.Stat(out) {
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	ip, _, _ := strings.Cut(strings.TrimPrefix(readLease(t, out), "ip="), " ")
	return ip
}

func TestIntegrationPoolExhaustionAndRelease(t *testing.T) {
	testbed.RequireRoot(t)
	l := newServedLink(t, "10.79.0.0/28")
	addMacvlans(t, l, 14)
	got := make([]string, 14)
	var wg sync.WaitGroup
	for i := 0; i < 13; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = udhcpcOn(t, l, fmt.Sprintf("mv%d", i+1), 10)
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, a := range got[:13] {
		if a == "" || seen[a] {
			t.Fatalf("client %d got %q (all: %v)", i+1, a, got)
		}
		seen[a] = true
	}
	if a := udhcpcOn(t, l, "mv14", 2); a != "" {
		t.Fatalf("14th client got %s from a full /28", a)
	}
	if st := l.server.Stats(); st.PoolFull == 0 {
		t.Fatalf("pool full not counted: %+v", st)
	}
	if a := udhcpcRelease(t, l, "mv1"); a != got[0] {
		t.Fatalf("client 1 came back with %q, want %s", a, got[0])
	}
	if st := l.server.Stats(); st.Releases != 1 {
		t.Fatalf("release not counted: %+v", st)
	}
	if a := udhcpcOn(t, l, "mv14", 10); a != got[0] {
		t.Fatalf("14th client got %q after the release, want %s", a, got[0])
	}
}

func TestIntegrationNakForStolenAddress(t *testing.T) {
	testbed.RequireRoot(t)
	dhclient := testbed.RequireTool(t, "dhclient")
	l := newServedLink(t, "10.80.0.0/28")
	addMacvlans(t, l, 1)
	owned := udhcpcOn(t, l, "mv1", 10)
	if owned == "" {
		t.Fatal("first client got no lease")
	}
	dir := t.TempDir()
	leaseFile := filepath.Join(dir, "leases")
	stale := fmt.Sprintf(`lease {
  interface "host0";
  fixed-address %s;
  option subnet-mask 255.255.255.240;
  option dhcp-server-identifier 10.80.0.1;
  renew 4 2037/01/01 00:00:00;
  rebind 4 2037/01/01 00:00:00;
  expire 4 2037/01/01 00:00:00;
}
`, owned)
	if err := os.WriteFile(leaseFile, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "lease")
	if o, err := runClient(t, l.ctr, dhclient, "-4", "-1", "-v", "-sf", clientScript(t, out, false),
		"-cf", "/dev/null", "-lf", leaseFile, "--no-pid", "host0"); err != nil {
		t.Fatalf("dhclient: %v\n%s", err, o)
	}
	if st := l.server.Stats(); st.Naks != 1 {
		t.Fatalf("NAK count %d, want 1 (%+v)", st.Naks, st)
	}
	if got := readLease(t, out); strings.HasPrefix(got, "ip="+owned+" ") {
		t.Fatalf("dhclient kept the stolen address: %s", got)
	}
}
