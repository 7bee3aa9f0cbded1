package netdiag

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/netwatch"
	"github.com/berth-dev/berth/internal/testbed"
)

func TestIntegrationGather(t *testing.T) {
	testbed.RequireRoot(t)
	host, ctr := testbed.NewNetNS(t), testbed.NewNetNS(t)
	w, err := netwatch.New(netwatch.Config{NetNS: host.Path, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-errc })
	idx := strconv.Itoa(host.Veth(t, "ve-diag", ctr, "host0"))
	for deadline := time.Now().Add(30 * time.Second); len(w.Links()) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("link not configured")
		}
	}
	run := t.TempDir()
	opt := Options{NetNS: host.Path, RunDir: run}
	codes := func() []string {
		t.Helper()
		f, err := Gather(w, "ve-diag", opt)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, fd := range Diagnose(f) {
			out = append(out, fd.Code)
		}
		return out
	}
	if diff := cmp.Diff([]string{NoLease}, codes()); diff != "" {
		t.Fatalf("fresh link -want +got:\n%s", diff)
	}
	host.Exec(t, "nft", "add table ip filter")
	host.Exec(t, "nft", "add chain ip filter FORWARD { type filter hook forward priority 0 ; policy drop ; }")
	host.Exec(t, "sysctl", "-qw", "net.ipv4.ip_forward=0")
	links := filepath.Join(run, "systemd/netif/links")
	_ = os.MkdirAll(links, 0o755)
	_ = os.WriteFile(filepath.Join(links, idx), []byte("ADMIN_STATE=configured\n"), 0o644)
	want := []string{OtherManager, NoLease, ForwardingOff, FirewallDrops}
	if diff := cmp.Diff(want, codes()); diff != "" {
		t.Fatalf("broken host -want +got:\n%s", diff)
	}
	if diff := cmp.Diff([]string{NoLink}, func() []string {
		f, _ := Gather(w, "ve-none", opt)
		return []string{Diagnose(f)[0].Code}
	}()); diff != "" {
		t.Fatalf("missing link -want +got:\n%s", diff)
	}
}
