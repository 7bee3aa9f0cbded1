//go:build linux && cgo && amd64

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

// TestIntegrationCloneStageFails starts cloned stages that cannot run: a
// mapping the kernel refuses, and a descriptor that is not open. Each
// start fails with the kernel's error (the child's own once the spawner
// checks the start, stage.executed) and leaves no child behind.
func TestIntegrationCloneStageFails(t *testing.T) {
	testbed.RequireRoot(t)
	good := []idmap.Mapping{{Inner: 0, Outer: 0x90000, Size: 0x10000}}
	tests := []struct {
		name string
		m    []idmap.Mapping
		fds  []uintptr
		want error
	}{
		{"refused mapping", []idmap.Mapping{{Inner: 0, Outer: 0x90000, Size: 0}}, []uintptr{0, 1, 2}, unix.EINVAL},
		{"closed descriptor", good, []uintptr{0, 1, 2, 1000}, unix.EBADF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := cloneStage(unix.CLONE_NEWPID, tc.m, -1, tc.fds)
			if err == nil {
				err = st.executed()
				st.kill()
				st.pidf.Close()
			}
			if err == nil {
				t.Fatal("the stage started")
			}
			if !strings.Contains(err.Error(), tc.want.Error()) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			files, _ := filepath.Glob("/proc/self/task/*/children")
			for _, f := range files {
				if data, _ := os.ReadFile(f); strings.TrimSpace(string(data)) != "" {
					t.Errorf("children left in %s: %s", f, data)
				}
			}
		})
	}
}
