package testbed

import (
	"os"
	"testing"

	"github.com/berth-dev/berth/internal/paths"
)

// Paths returns a paths layout under a temp directory of t, with every
// directory created, so code under test touches no real host path.
func Paths(t testing.TB) paths.Paths {
	t.Helper()
	p := paths.Under(t.TempDir())
	dirs := append([]string{p.Pool, p.Run, p.State, p.UnitDir, p.RuntimeUnitDir, p.Log},
		append(p.ImageDirs, p.SettingsTrusted...)...)
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return p
}
