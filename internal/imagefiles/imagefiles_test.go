package imagefiles

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

var envTests = []struct {
	name, in string
	want     map[string]string
}{
	{"os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
		map[string]string{"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "NAME": "Debian GNU/Linux", "VERSION_ID": "12", "ID": "debian"}},
	{"quotes and escapes", "A='x \"y\"'\nB=\"a\\\"b\\$c\"\nC=plain\\ word\n# comment\n; too\nbad line\n1X=no\n",
		map[string]string{"A": `x "y"`, "B": `a"b$c`, "C": "plain word"}},
	{"crlf and continuation", "PRETTY_HOSTNAME=\"web\\\n server\"\r\nCHASSIS=vm\r\n",
		map[string]string{"PRETTY_HOSTNAME": "web server", "CHASSIS": "vm"}},
	{"empty", "", map[string]string{}},
}

func TestParseEnv(t *testing.T) {
	for _, tt := range envTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnv([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{"A=\"open\n", "A=\x00\n", "A=\xff\n"} {
		if _, err := ParseEnv([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseEnv(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestParseHostnameAndID(t *testing.T) {
	if h, err := ParseHostname([]byte("# c\n\n  web-1 \nother\n")); err != nil || h != "web-1" {
		t.Errorf("hostname = %q, %v", h, err)
	}
	if h, err := ParseHostname([]byte("#only\n")); err != nil || h != "" {
		t.Errorf("empty hostname = %q, %v", h, err)
	}
	if id, err := ParseMachineID([]byte("0123456789abcdef0123456789abcdef\n")); err != nil || len(id) != 16 {
		t.Errorf("id = %x, %v", id, err)
	}
	if id, err := ParseMachineID([]byte("uninitialized\n")); err != nil || id != nil {
		t.Errorf("uninitialized id = %x, %v", id, err)
	}
	if _, err := ParseMachineID([]byte("xyz")); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad id: %v", err)
	}
}

// mkroot builds a small image root with the given files and symlinks.
func mkroot(t *testing.T, files map[string]string, links map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range links {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestRootReaders(t *testing.T) {
	host := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(host, []byte("HOST=leaked\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		files   map[string]string
		links   map[string]string
		read    func(r *Root) (any, error)
		want    any
		wantErr error
	}{
		{"os-release via usr symlink", map[string]string{"usr/lib/os-release": "ID=debian\n"},
			map[string]string{"etc/os-release": "../usr/lib/os-release"},
			func(r *Root) (any, error) { return r.OSRelease() }, map[string]string{"ID": "debian"}, nil},
		{"os-release symlink out", map[string]string{"usr/lib/os-release": "ID=inside\n"},
			map[string]string{"etc/os-release": host},
			func(r *Root) (any, error) { return r.OSRelease() }, map[string]string{"ID": "inside"}, nil},
		{"etc directory symlink out stays inside", map[string]string{},
			map[string]string{"etc": filepath.Dir(host)},
			func(r *Root) (any, error) { return r.MachineInfo() }, map[string]string{}, nil},
		{"hostname", map[string]string{"etc/hostname": "box\n"}, nil,
			func(r *Root) (any, error) { return r.Hostname() }, "box", nil},
		{"hostname symlink refused", nil, map[string]string{"etc/hostname": host},
			func(r *Root) (any, error) { return r.Hostname() }, nil, ErrSymlink},
		{"machine-id missing", nil, nil,
			func(r *Root) (any, error) { return r.MachineID() }, []byte(nil), nil},
		{"machine-info too large", map[string]string{"etc/machine-info": strings.Repeat("A=1\n", MaxEnv)}, nil,
			func(r *Root) (any, error) { return r.MachineInfo() }, nil, ErrUnsafe},
		{"hostname is a directory", map[string]string{"etc/hostname/x": ""}, nil,
			func(r *Root) (any, error) { return r.Hostname() }, nil, ErrUnsafe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Open(mkroot(t, tt.files, tt.links))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := tt.read(r)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRootFIFODoesNotBlock(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "etc/os-release"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.OSRelease(); !errors.Is(err, ErrUnsafe) {
		t.Errorf("FIFO: %v, want ErrUnsafe", err)
	}
}

func FuzzParseEnv(f *testing.F) {
	for _, tt := range envTests {
		f.Add([]byte(tt.in))
	}
	f.Add([]byte("A=\"\\"))
	f.Add([]byte("A='\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseEnv(data)
		_, _ = ParseHostname(data)
		_, _ = ParseMachineID(data)
	})
}

// TestProcRoot reads through /proc/PID/root, as the daemon does for a
// running machine's leader (here: this process, so the host's files).
func TestProcRoot(t *testing.T) {
	r, err := Open("/proc/self/root")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	osr, err := r.OSRelease()
	if err != nil {
		t.Fatal(err)
	}
	if osr["ID"] == "" {
		t.Errorf("host os-release has no ID: %v", osr)
	}
}
