package spawn_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/google/go-cmp/cmp"
)

// machineName returns a machine name unique to this test run, so the UID
// range records on the host are never one of the host's own machines.
func machineName(t *testing.T, tag string) string {
	return fmt.Sprintf("berth-test-%s-%d", tag, os.Getpid())
}

// owner returns the host UID and GID of path.
func owner(t *testing.T, path string) [2]uint32 {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	s := st.Sys().(*syscall.Stat_t)
	return [2]uint32{s.Uid, s.Gid}
}

// manifest records the owner, group and mode of every file below root.
func manifest(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		s := st.Sys().(*syscall.Stat_t)
		m[strings.TrimPrefix(p, root)] = fmt.Sprintf("%d:%d %o", s.Uid, s.Gid, s.Mode)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// rangeBase reads the host base of the payload's uid_map from its output
// (the first line, "0 BASE SIZE").
func rangeBase(t *testing.T, out string) uint32 {
	t.Helper()
	f := strings.Fields(out)
	if len(f) < 3 || f[0] != "0" {
		t.Fatalf("no uid_map in output %q", out)
	}
	n, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

func TestIntegrationPrivateUsersBindOwnership(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	const script = "cat /proc/self/uid_map; touch /mnt/f; stat -c %u:%g /mnt/f"
	tests := []struct {
		name    string
		args    []string
		bindOpt string
		dirUID  int
		// host is the file's owner on the host: -1 for the range's base.
		host   int64
		inside string
	}{
		{name: "privileged", args: nil, host: 0, inside: "0:0"},
		{name: "pick map", args: []string{"-U"}, host: -1, inside: "0:0"},
		{name: "pick chown", args: []string{"-U", "--private-users-ownership=chown"}, host: -1, inside: "0:0"},
		{name: "idmap", args: []string{"-U"}, bindOpt: ":idmap", host: 0, inside: "0:0"},
		{name: "idmap pair", args: []string{"-U"}, bindOpt: ":idmap=1234:0:1", dirUID: 1234, host: 1234, inside: "0:0"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Chown(dir, tc.dirUID, tc.dirUID); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o777); err != nil { // a plain bind: container root is "others"
				t.Fatal(err)
			}
			args := append([]string{"-q", "--pipe", "--register=no", "-D", img,
				"-M", machineName(t, "bind"+strconv.Itoa(i)), "--bind=" + dir + ":/mnt" + tc.bindOpt}, tc.args...)
			_, env := privateRoot(t)
			r := nspawn(t, env, append(args, "/bin/sh", "-c", script)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			want := uint32(tc.host)
			if tc.host < 0 {
				want = rangeBase(t, lines[0])
				if want == 0 {
					t.Fatalf("no shift in uid_map %q", lines[0])
				}
			}
			if diff := cmp.Diff([2]uint32{want, want}, owner(t, filepath.Join(dir, "f"))); diff != "" {
				t.Errorf("host owner (-want +got):\n%s", diff)
			}
			if got := lines[len(lines)-1]; got != tc.inside {
				t.Errorf("owner inside = %q, want %q", got, tc.inside)
			}
		})
	}
}

func TestIntegrationPrivateUsersMapLeavesImage(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	before := manifest(t, img)
	_, env := privateRoot(t)
	r := nspawn(t, env, "--pipe", "--register=no", "--resolv-conf=off", "--timezone=off", "--link-journal=no", "-D", img, "-M", machineName(t, "map"),
		"-U", "--private-users-ownership=map", "/bin/sh", "-c", "touch /root/x && stat -c %u /root/x")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "0" {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "ownership map") {
		t.Errorf("ownership not reported: %q", r.stderr)
	}
	after := manifest(t, img)
	if got := after["/root/x"]; !strings.HasPrefix(got, "0:0 ") {
		t.Errorf("file written through the idmapped root is %q on disk, want 0:0", got)
	}
	delete(after, "/root/x")
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("map changed the image on disk (-before +after):\n%s", diff)
	}
}

func TestIntegrationPrivateUsersChownRoundTrip(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	before := manifest(t, img)
	name := machineName(t, "chown")
	quiet := []string{"-q", "--pipe", "--register=no", "--resolv-conf=off", "--timezone=off", "--link-journal=no", "-D", img, "-M", name}
	_, env := privateRoot(t)
	r := nspawn(t, env, append(quiet,
		"-U", "--private-users-ownership=chown", "/bin/cat", "/proc/self/uid_map")...)
	if r.code != 0 {
		t.Fatalf("chown: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	base := rangeBase(t, r.stdout)
	if got := owner(t, filepath.Join(img, "bin")); got != [2]uint32{base, base} {
		t.Fatalf("after chown /bin is %v, want %d", got, base)
	}
	r = nspawn(t, env, append(quiet, "--private-users=0", "--private-users-chown", "/bin/true")...)
	if r.code != 0 {
		t.Fatalf("undo: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if diff := cmp.Diff(before, manifest(t, img)); diff != "" {
		t.Errorf("round trip changed ownership (-before +after):\n%s", diff)
	}
}

func TestIntegrationPrivateUsersBadValues(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	before := manifest(t, img)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--private-users=abc"}, "not a number"},
		{[]string{"--private-users=4294967000:65536"}, "beyond"},
		{[]string{"--private-users=65536:0"}, "empty"},
		{[]string{"-U", "--private-users-ownership=chown", "--read-only"}, "--read-only"},
		{[]string{"--private-users=pick", "--private-users-ownership=nope"}, "want off, chown, map or auto"},
		{[]string{"--bind=/tmp:/mnt:idmap"}, "user namespace"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"--pipe", "--register=no", "-D", img, "-M", machineName(t, "bad")}, tc.args...)
			_, env := privateRoot(t)
			r := nspawn(t, env, append(args, "/bin/true")...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want 1 and one line with %q", r.code, r.stderr, tc.want)
			}
		})
	}
	if diff := cmp.Diff(before, manifest(t, img)); diff != "" {
		t.Errorf("a refused start changed the image (-before +after):\n%s", diff)
	}
}
