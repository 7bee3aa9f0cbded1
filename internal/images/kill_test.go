package images

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// cloneHelperEnv carries the paths (JSON) to the helper process.
const cloneHelperEnv = "BERTH_IMAGES_CLONE_HELPER"

// TestCloneHelper is not a test: run by TestIntegrationCloneKilled in a
// child process, it clones "many" to "copy" and is killed doing so.
func TestCloneHelper(t *testing.T) {
	spec := os.Getenv(cloneHelperEnv)
	if spec == "" {
		return // only meaningful in the helper process
	}
	var p paths.Paths
	if err := json.Unmarshal([]byte(spec), &p); err != nil {
		t.Fatal(err)
	}
	_ = New(p).Clone(context.Background(), "many", "copy", false, nil)
}

func TestIntegrationCloneKilled(t *testing.T) {
	testbed.RequireRoot(t)
	p := testbed.Paths(t)
	if err := makeTree(filepath.Join(p.Pool, "many"), 10, 500, 16<<20); err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(p)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCloneHelper$")
	cmd.Env = append(os.Environ(), cloneHelperEnv+"="+string(spec))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it as soon as its temporary shows up.
	deadline := time.Now().Add(time.Minute)
	for !hasTemporary(t, p.Pool) {
		if time.Now().After(deadline) {
			t.Fatal("the clone never started")
		}
		time.Sleep(time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	m := New(p)
	if _, err := m.Find("copy"); !errors.Is(err, ErrNotFound) {
		t.Errorf("half clone visible after kill -9: %v", err)
	}
	if _, err := m.Clean(CleanHidden); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"many"}, entries(t, p.Pool)); diff != "" {
		t.Errorf("pool after clean (-want +got):\n%s", diff)
	}
	if err := m.Clone(context.Background(), "many", "copy", false, nil); err != nil {
		t.Errorf("name not reusable after a killed clone: %v", err)
	}
}

func hasTemporary(t *testing.T, dir string) bool {
	for _, e := range entries(t, dir) {
		if strings.HasPrefix(e, ".#") {
			return true
		}
	}
	return false
}
