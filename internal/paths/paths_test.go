package paths

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultIsUnderRoot(t *testing.T) {
	if diff := cmp.Diff(Under("/"), Default()); diff != "" {
		t.Errorf("Default() differs from Under(\"/\") (-under +default):\n%s", diff)
	}
}

func TestUnder(t *testing.T) {
	p := Under("/tmp/r")
	for _, tc := range []struct{ name, got, want string }{
		{"pool", p.Pool, "/tmp/r/var/lib/machines"},
		{"run", p.Run, "/tmp/r/run/berth"},
		{"first image dir", p.ImageDirs[0], "/tmp/r/etc/machines"},
		{"cgroup stays", p.Cgroup, "/sys/fs/cgroup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}
