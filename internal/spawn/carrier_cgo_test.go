//go:build linux && cgo

package spawn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/idmap"
	"github.com/berth-dev/berth/internal/testbed"
	"golang.org/x/sys/unix"
)

// TestIntegrationCloneCarrier maps the spawner's cloned carrier: a file
// owned by 0:0 seen through an idmapped mount of the namespace is owned
// by the range's base, and no child is left behind.
func TestIntegrationCloneCarrier(t *testing.T) {
	testbed.RequireRoot(t)
	const base = 0x90000
	ms := []idmap.Mapping{{Inner: 0, Outer: base, Size: 0x10000}}
	for range 3 {
		ns, err := idmap.NewCarrier(cloneCarrier).Map(ms, ms)
		if err != nil {
			t.Fatal(err)
		}
		src, target := t.TempDir(), t.TempDir()
		if err := os.WriteFile(filepath.Join(src, "file"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := idmap.Mount(src, target, ns, false); err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		err = unix.Stat(filepath.Join(target, "file"), &st)
		_ = unix.Unmount(target, unix.MNT_DETACH)
		ns.Close()
		if err != nil || st.Uid != base || st.Gid != base {
			t.Errorf("owner through the mapping: %d:%d (%v), want %d:%d", st.Uid, st.Gid, err, base, base)
		}
	}
	files, _ := filepath.Glob("/proc/self/task/*/children")
	for _, f := range files {
		if data, _ := os.ReadFile(f); strings.TrimSpace(string(data)) != "" {
			t.Errorf("children left in %s: %s", f, data)
		}
	}
}
