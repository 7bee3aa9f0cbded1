package images

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationCloneSymlinkExchangeRace swaps a directory of the source
// image with a symlink to a host directory (RENAME_EXCHANGE, as a hostile
// container could) while clones run, and checks that no clone ever holds
// the host directory's content.
func TestIntegrationCloneSymlinkExchangeRace(t *testing.T) {
	testbed.RequireRoot(t)
	p := testbed.Paths(t)
	host := filepath.Join(p.Root, "host-secret")
	writeFile(t, filepath.Join(host, "shadow"), "SECRET", 0o600)
	src := filepath.Join(p.Pool, "src")
	for i := range 50 {
		writeFile(t, filepath.Join(src, "d", "f"+strconv.Itoa(i)), "ok", 0o644)
	}
	if err := os.Symlink(host, filepath.Join(src, "l")); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			_ = unix.Renameat2(unix.AT_FDCWD, filepath.Join(src, "d"), unix.AT_FDCWD, filepath.Join(src, "l"), unix.RENAME_EXCHANGE)
		}
	}()
	m := New(p)
	for i := range 30 {
		name := "c" + strconv.Itoa(i)
		if err := m.Clone(context.Background(), "src", name, false, nil); err != nil {
			continue // refusing is fine; leaking is not
		}
		leaked := false
		_ = filepath.WalkDir(filepath.Join(p.Pool, name), func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if b, _ := os.ReadFile(path); string(b) == "SECRET" {
					leaked = true
				}
			}
			return nil
		})
		if leaked {
			t.Errorf("clone %s holds a host file", name)
		}
	}
	stop.Store(true)
	wg.Wait()
}
