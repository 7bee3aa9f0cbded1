package chownshift

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/testbed"
)

// nspawnRun runs argv in image with systemd-nspawn -U and the extra
// options, and returns its output.
func nspawnRun(t *testing.T, image string, opts []string, argv ...string) string {
	t.Helper()
	nspawn := testbed.RequireTool(t, "systemd-nspawn")
	args := append([]string{"-q", "-U", "--keep-unit", "--register=no", "-M", "berth-shift-interop", "-D", image}, opts...)
	cmd := exec.Command(nspawn, append(args, argv...)...)
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-nspawn %v: %v: %s", args, err, out)
	}
	return string(out)
}

// owners reduces a manifest to owner, group and mode.
func owners(m map[string]entry) map[string][3]uint32 {
	out := map[string][3]uint32{}
	for p, e := range m {
		out[p] = [3]uint32{e.UID, e.GID, e.Mode}
	}
	return out
}

// TestIntegrationNspawnInterop is differential against systemd-nspawn: a
// tree nspawn chowned is recognised and shifted back exactly by berth, and
// a tree berth chowned is taken by nspawn -U as already shifted.
func TestIntegrationNspawnInterop(t *testing.T) {
	image := testbed.BusyboxImage(t)
	testbed.StartBus(t)
	buildTree(t, filepath.Join(image, "tree"), "/etc/hostname")
	before := manifest(t, image)

	nspawnRun(t, image, []string{"--private-users-ownership=chown"}, "/bin/true")
	st, err := Detect(image)
	if err != nil || st.Busy || st.Shift == 0 {
		t.Fatalf("after nspawn's chown: %+v, %v", st, err)
	}
	for p, e := range manifest(t, image) {
		if b, ok := before[p]; ok && (e.UID != b.UID|st.Shift || e.GID != b.GID|st.Shift) {
			t.Errorf("%s: nspawn shifted to %d:%d, berth reads shift %#x", p, e.UID, e.GID, st.Shift)
		}
	}
	if _, err := Shift(image, 0, Options{}); err != nil {
		t.Fatal(err)
	}
	// nspawn leaves files it creates (mount points) behind; compare what
	// was there before.
	after := manifest(t, image)
	for p := range after {
		if _, ok := before[p]; !ok {
			delete(after, p)
		}
	}
	if d := cmp.Diff(owners(before), owners(after)); d != "" {
		t.Errorf("owners after nspawn's chown and berth's undo (-before +after):\n%s", d)
	}

	const base = 0x1230000
	if _, err := Shift(image, base, Options{}); err != nil {
		t.Fatal(err)
	}
	out := nspawnRun(t, image, nil, "/bin/cat", "/proc/self/uid_map")
	line, _, _ := strings.Cut(out, "\n")
	if f := strings.Fields(line); len(f) != 3 || f[1] != fmt.Sprint(base) {
		t.Errorf("nspawn -U on berth's shifted tree: uid_map %q, want the tree's shift %d", out, base)
	}
	if st, err := Detect(image); err != nil || st.Shift != base {
		t.Errorf("nspawn changed berth's shift: %+v, %v", st, err)
	}
}
