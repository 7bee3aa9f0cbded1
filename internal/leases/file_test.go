package leases

import (
	"io"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var quiet = log.New(io.Discard, "", 0)

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ve-a.json")
	tb := newTestTable(t, "10.0.0.0/28")
	want := []Lease{
		{ClientID: "\x01\x02\x03\x04\x05\x06\x07", HWAddr: "02:03:04:05:06:07", Addr: netip.MustParseAddr("10.0.0.3"), Hostname: "box", Expiry: t0.Add(time.Hour)},
		{ClientID: "b", Addr: netip.MustParseAddr("10.0.0.9"), Expiry: t0.Add(2 * time.Hour)},
	}
	for _, l := range want {
		if err := tb.Bind(l, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Save(path); err != nil {
		t.Fatal(err)
	}
	back := newTestTable(t, "10.0.0.0/28")
	if n := back.Load(path, t0, quiet); n != 2 {
		t.Fatalf("loaded %d, want 2", n)
	}
	if diff := cmp.Diff(want, back.All(), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Fatalf("-want +got:\n%s", diff)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// TestSaveUnchangedLeavesFile: saving leases the file holds already
// leaves it alone (no new file renamed over it); a change is written.
func TestSaveUnchangedLeavesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ve-a.leases")
	tb := newTestTable(t, "10.0.0.0/28")
	if err := tb.Bind(Lease{ClientID: "a", Addr: netip.MustParseAddr("10.0.0.3"), Expiry: t0.Add(time.Hour)}, t0); err != nil {
		t.Fatal(err)
	}
	inode := func() uint64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Sys().(*syscall.Stat_t).Ino
	}
	if err := tb.Save(path); err != nil {
		t.Fatal(err)
	}
	first := inode()
	if err := tb.Save(path); err != nil {
		t.Fatal(err)
	}
	if inode() != first {
		t.Fatal("unchanged leases rewritten")
	}
	if err := tb.Bind(Lease{ClientID: "b", Addr: netip.MustParseAddr("10.0.0.4"), Expiry: t0.Add(time.Hour)}, t0); err != nil {
		t.Fatal(err)
	}
	if err := tb.Save(path); err != nil {
		t.Fatal(err)
	}
	if inode() == first {
		t.Fatal("changed leases not written")
	}
	back := newTestTable(t, "10.0.0.0/28")
	if n := back.Load(path, t0, quiet); n != 2 {
		t.Fatalf("loaded %d, want 2", n)
	}
}

func TestLoadSkipsBad(t *testing.T) {
	good := `{"client_id":"g","addr":"10.0.0.4","expiry":"2026-01-01T01:00:00Z"}`
	tests := []struct {
		name, content string
		want          int
	}{
		{"empty", "", 0},
		{"garbage", "\x00\xffnot json", 0},
		{"truncated", `{"version":1,"leases":[` + good[:20], 0},
		{"wrong version", `{"version":7,"leases":[` + good + `]}`, 0},
		{"good", `{"version":1,"leases":[` + good + `]}`, 1},
		{"out of pool", `{"version":1,"leases":[` + good + `,{"client_id":"x","addr":"10.9.0.4","expiry":"2026-01-01T01:00:00Z"}]}`, 1},
		{"server address", `{"version":1,"leases":[{"client_id":"x","addr":"10.0.0.1","expiry":"2026-01-01T01:00:00Z"}]}`, 0},
		{"duplicate address", `{"version":1,"leases":[` + good + `,{"client_id":"y","addr":"10.0.0.4","expiry":"2026-01-01T01:00:00Z"}]}`, 1},
		{"duplicate client", `{"version":1,"leases":[` + good + `,{"client_id":"g","addr":"10.0.0.5","expiry":"2026-01-01T01:00:00Z"}]}`, 1},
		{"expired", `{"version":1,"leases":[{"client_id":"x","addr":"10.0.0.5","expiry":"2025-01-01T01:00:00Z"}]}`, 0},
		{"bad entry", `{"version":1,"leases":[17,"x",{"addr":"10.0.0.6"},` + good + `]}`, 1},
		{"huge", `{"version":1,"leases":[` + good + `]}` + strings.Repeat(" ", MaxFileSize), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "leases.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			tb := newTestTable(t, "10.0.0.0/28")
			if got := tb.Load(path, t0, quiet); got != tt.want || tb.Len() != tt.want {
				t.Fatalf("loaded %d (table %d), want %d", got, tb.Len(), tt.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	tb := newTestTable(t, "10.0.0.0/28")
	if n := tb.Load(filepath.Join(t.TempDir(), "none"), t0, quiet); n != 0 {
		t.Fatalf("loaded %d", n)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"version":1,"leases":[{"client_id":"g","addr":"10.0.0.4","hostname":"h","expiry":"2026-01-01T01:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"leases":[{"client_id":"g","addr":"10.0.0.1","expiry":"2026-01-01T01:00:00Z"},{}]}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tb := newTestTable(t, "10.0.0.0/28")
		n := tb.loadBytes(data, t0, func(string, ...any) {})
		if n != tb.Len() {
			t.Fatalf("loaded %d but table has %d", n, tb.Len())
		}
		for _, l := range tb.All() {
			if !tb.InPool(l.Addr) || !l.Expiry.After(t0) {
				t.Fatalf("bad lease loaded: %+v", l)
			}
		}
	})
}
