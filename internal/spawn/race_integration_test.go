package spawn_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// swapper exchanges two paths of the image (RENAME_EXCHANGE, atomic) as
// fast as it can until stopped: what a container that owns its image
// does to a bind target while berth-nspawn starts it again.
type swapper struct {
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// swap starts exchanging a and b.
func (s *swapper) swap(t *testing.T, a, b string) {
	t.Helper()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			_ = unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
			runtime.Gosched()
		}
	}()
}

// end stops every exchange and waits for them; later calls do nothing.
func (s *swapper) end() {
	s.once.Do(func() { close(s.stop) })
	s.wg.Wait()
}

// TestIntegrationEscapeBindRace (hardening checklist item 26,
// CVE-2021-30465, CVE-2024-45310): while berth-nspawn starts the same
// image again and again, the parent of the bind target /mnt/a/target,
// the bind target /mnt/b/target and the --tmpfs target /mnt/t flip
// between real directories and symlinks to a host directory (absolute,
// and relative with enough "..").
// Every start either binds inside the container or fails; the host
// directory never gets a mount or a new entry.
func TestIntegrationEscapeBindRace(t *testing.T) {
	img, common := busybox(t)
	canary, untouched := hostMarker(t)
	src := hostDir(t, "bound", "from the bind source\n")
	mnt := filepath.Join(img, "mnt")
	up := strings.Repeat("../", 12)
	for _, p := range []struct{ path, link string }{
		{"a/target", ""}, {"b/target", ""}, {"t", ""},
		{"a.abs", canary}, {"b/target.rel", up + strings.TrimPrefix(canary, "/")}, {"t.abs", canary},
	} {
		var err error
		if p.link == "" {
			err = os.MkdirAll(filepath.Join(mnt, p.path), 0o755)
		} else {
			err = os.Symlink(p.link, filepath.Join(mnt, p.path))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	s := &swapper{stop: make(chan struct{})}
	s.swap(t, filepath.Join(mnt, "a"), filepath.Join(mnt, "a.abs"))
	s.swap(t, filepath.Join(mnt, "b/target"), filepath.Join(mnt, "b/target.rel"))
	s.swap(t, filepath.Join(mnt, "t"), filepath.Join(mnt, "t.abs"))
	defer s.end()
	started := 0
	for i := 0; i < 25; i++ {
		r := nspawn(t, nil, append(common, "-M", "t-race", "--bind="+src+":/mnt/a/target",
			"--bind-ro="+src+":/mnt/b/target", "--tmpfs=/mnt/t",
			"/bin/true")...)
		if r.code == 0 {
			started++
		}
		if mountedBelow(canary) {
			t.Fatalf("run %d mounted over the host directory %s", i, canary)
		}
	}
	s.end()
	untouched(t)
	t.Logf("%d of 25 starts succeeded, the others refused the swapped target", started)
}
