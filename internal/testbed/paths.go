package testbed

import (
	"bufio"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/paths"
	"golang.org/x/sys/unix"
)

// Paths returns a paths layout under a temp directory of t, with every
// directory created, so code under test touches no real host path. When
// the test ends, whatever is still mounted below the temp directory (say
// the propagation directory of a spawner the test killed) is detached
// before the directory is removed.
func Paths(t testing.TB) paths.Paths {
	t.Helper()
	root := t.TempDir()
	t.Cleanup(func() { detachBelow(root) })
	p := paths.Under(root)
	dirs := append([]string{p.Pool, p.Run, p.State, p.UnitDir, p.RuntimeUnitDir, p.Log},
		append(p.ImageDirs, p.SettingsTrusted...)...)
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// detachBelow lazily unmounts every mount point below dir, deepest first.
func detachBelow(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var below []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			below = append(below, fields[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(below)))
	for _, m := range below {
		_ = unix.Unmount(m, unix.MNT_DETACH)
	}
}
