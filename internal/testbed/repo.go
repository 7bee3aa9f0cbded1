package testbed

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// RepoRoot returns the repository root: the nearest directory above the
// test's working directory that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// BuildTags are the build tags of every berth binary: the pure-Go user and
// resolver code, so the statically linked cgo stub of berth-nspawn links
// without glibc's NSS warnings (and never loads NSS modules).
const BuildTags = "osusergo,netgo"

var binaries struct {
	mu    sync.Mutex
	dir   string
	built map[string]string
}

// Binary builds one of the project's programs ("berthd", "berth-nspawn",
// "berthctl") once per test process and returns its path.
func Binary(t testing.TB, name string) string {
	t.Helper()
	binaries.mu.Lock()
	defer binaries.mu.Unlock()
	if p, ok := binaries.built[name]; ok {
		return p
	}
	if binaries.built == nil {
		dir, err := os.MkdirTemp("", "berth-bin-")
		if err != nil {
			t.Fatal(err)
		}
		binaries.dir, binaries.built = dir, map[string]string{}
	}
	pkg := map[string]string{
		"berthd": "./daemon/berthd", "berth-nspawn": "./daemon/berth-nspawn", "berthctl": "./client/berthctl",
	}[name]
	if pkg == "" {
		t.Fatalf("unknown binary %q", name)
	}
	out := filepath.Join(binaries.dir, name)
	// As `make build`: -trimpath, so the binary tests measure is laid
	// out as the installed one, whatever the checkout's path.
	cmd := exec.Command("go", "build", "-trimpath", "-tags", BuildTags, "-o", out, pkg)
	cmd.Dir = RepoRoot(t)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, msg)
	}
	binaries.built[name] = out
	return out
}
