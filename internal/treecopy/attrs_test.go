//go:build linux

package treecopy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
)

// sparseFile makes an 8 MiB file with two small data extents.
func sparseFile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{1 << 20, 5 << 20} {
		if _, err := f.WriteAt([]byte("data"), off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(8 << 20); err != nil {
		t.Fatal(err)
	}
}

func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// TestCopySparse checks that holes stay holes and the content is the same.
func TestCopySparse(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	sparseFile(t, filepath.Join(src, "sparse"))
	if allocated(t, filepath.Join(src, "sparse")) >= 1<<20 {
		testbed.Unavailable(t, "the temp file system makes no holes")
	}
	if err := Copy(dir(t, src), "sparse", dir(t, dst), "sparse", Options{}); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(src, "sparse"))
	got, err := os.ReadFile(filepath.Join(dst, "sparse"))
	if err != nil || !bytes.Equal(want, got) {
		t.Fatalf("content differs (%d vs %d bytes): %v", len(want), len(got), err)
	}
	if n := allocated(t, filepath.Join(dst, "sparse")); n >= 1<<20 {
		t.Errorf("copy allocates %d bytes of an 8 MiB file with 8 bytes of data", n)
	}
}

// getfacl returns the real getfacl's view of path (numeric ids).
func getfacl(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(testbed.RequireTool(t, "getfacl"), "-n", "--omit-header", path).CombinedOutput()
	if err != nil {
		t.Fatalf("getfacl %s: %v: %s", path, err, out)
	}
	return string(out)
}

func setfacl(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(testbed.RequireTool(t, "setfacl"), args...).CombinedOutput(); err != nil {
		t.Fatalf("setfacl %v: %v: %s", args, err, out)
	}
}

// TestCopyXattrsAndACLs copies a tree whose file and directory carry user
// xattrs, access ACLs and a default ACL, and compares them with the real
// getfacl; with Chown, named ACL entries move by the shift.
func TestCopyXattrsAndACLs(t *testing.T) {
	src := t.TempDir()
	tree := filepath.Join(src, "tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(tree, "file")
	if err := os.WriteFile(file, []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(file, "user.berth", []byte("value"), 0); err != nil {
		testbed.Unavailable(t, "no user xattrs on the temp file system: "+err.Error())
	}
	setfacl(t, "-m", "u:1234:rw,g:2345:r", file)
	setfacl(t, "-d", "-m", "u:1234:rwx", tree)
	for _, tc := range []struct {
		name string
		o    Options
		user string
	}{
		{"plain", Options{}, "1234"},
		{"shifted", Options{Chown: true, UID: 0x80000, GID: 0x80000}, "525522"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o.Chown && os.Geteuid() != 0 {
				testbed.Unavailable(t, "chown needs root")
			}
			dst := t.TempDir()
			if err := Copy(dir(t, src), "tree", dir(t, dst), "tree", tc.o); err != nil {
				t.Fatal(err)
			}
			got, err := getXattr(openFile(t, filepath.Join(dst, "tree/file")), "user.berth")
			if err != nil || string(got) != "value" {
				t.Errorf("user.berth = %q, %v", got, err)
			}
			want := shiftedACL(getfacl(t, file), tc.o)
			if diff := cmp.Diff(want, aclBody(getfacl(t, filepath.Join(dst, "tree/file")))); diff != "" {
				t.Errorf("file ACL (-want +got):\n%s", diff)
			}
			if d := getfacl(t, filepath.Join(dst, "tree")); !strings.Contains(d, "default:user:"+tc.user+":rwx") {
				t.Errorf("directory default ACL lacks user %s:\n%s", tc.user, d)
			}
		})
	}
}

// aclBody drops getfacl's owner lines, which Chown changes.
func aclBody(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "# ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// shiftedACL is what getfacl should print for the copy.
func shiftedACL(s string, o Options) string {
	s = aclBody(s)
	if o.Chown {
		s = strings.NewReplacer("user:1234:", "user:525522:", "group:2345:", "group:526633:").Replace(s)
	}
	return s
}

func openFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestIntegrationCopyCapabilities checks that file capabilities, like the
// setuid bit, are kept only with KeepSetID.
func TestIntegrationCopyCapabilities(t *testing.T) {
	testbed.RequireRoot(t)
	setcap, getcap := testbed.RequireTool(t, "setcap"), testbed.RequireTool(t, "getcap")
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "ping"), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(setcap, "cap_net_raw=ep", filepath.Join(src, "ping")).CombinedOutput(); err != nil {
		t.Fatalf("setcap: %v: %s", err, out)
	}
	for _, tc := range []struct {
		keep bool
		want string
	}{{true, "cap_net_raw=ep"}, {false, ""}} {
		dst := t.TempDir()
		if err := Copy(dir(t, src), "ping", dir(t, dst), "ping", Options{KeepSetID: tc.keep}); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(getcap, filepath.Join(dst, "ping")).CombinedOutput()
		if err != nil {
			t.Fatalf("getcap: %v: %s", err, out)
		}
		got := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), filepath.Join(dst, "ping")))
		if got != tc.want {
			t.Errorf("KeepSetID %v: capabilities %q, want %q", tc.keep, got, tc.want)
		}
	}
}

// FuzzShiftACL feeds ACL values (they come from the container's files)
// to shiftACL: it must not panic and must keep the length.
func FuzzShiftACL(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 1, 0, 7, 0, 255, 255, 255, 255, 2, 0, 6, 0, 210, 4, 0, 0})
	f.Add([]byte{2, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, v []byte) {
		if got := shiftACL(v, 0x80000, 0x80000); len(got) != len(v) {
			t.Errorf("length %d, want %d", len(got), len(v))
		}
	})
}
