package machine1

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/paths"
)

func TestParentOf(t *testing.T) {
	if got := parentOf(os.Getpid()); got != os.Getppid() {
		t.Errorf("parentOf(self) = %d, want %d", got, os.Getppid())
	}
	if got := parentOf(-1); got != 0 {
		t.Errorf("parentOf(-1) = %d, want 0", got)
	}
}

// TestEffectiveResolve resolves command lines against settings files in
// a temp root: which file is used, its trust, and each value's origin.
func TestEffectiveResolve(t *testing.T) {
	p := paths.Under(t.TempDir())
	for _, dir := range []string{filepath.Join(p.Pool, "web", "etc"), p.SettingsTrusted[0]} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	untrusted := filepath.Join(p.Pool, "web.nspawn")
	write(untrusted, "[Exec]\nHostname=fromfile\nLimitNOFILE=10\n")
	trusted := filepath.Join(p.SettingsTrusted[0], "db.nspawn")
	write(trusted, "[Exec]\nBoot=no\nProcessTwo=yes\n")
	tests := []struct {
		name    string
		command []string
		file    string
		trusted bool
		mode    string
		rows    map[string]string // key → value@origin
		warns   int
	}{
		{
			name: "untrusted file next to the image", command: []string{"berth-nspawn", "-b", "-M", "web"},
			file: untrusted, mode: "yes",
			rows:  map[string]string{"Boot": "yes@command line", "Hostname": "fromfile@" + untrusted + ":2", "LimitNOFILE": "@default"},
			warns: 1,
		},
		{
			name: "settings=no", command: []string{"berth-nspawn", "--settings=no", "-M", "web"}, mode: "no",
			rows: map[string]string{"Hostname": "@default"},
		},
		{
			name: "override lets the trusted file win", command: []string{"berth-nspawn", "-b", "--settings=override", "-D", filepath.Join(p.Pool, "web"), "-M", "db"},
			file: trusted, trusted: true, mode: "override",
			rows: map[string]string{"Boot": "no@" + trusted + ":2", "ProcessTwo": "yes@" + trusted + ":3"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := effective{command: tc.command}
			if err := e.resolve(p); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, r := range e.rows {
				if _, ok := tc.rows[r.Key]; ok {
					got[r.Key] = r.Value + "@" + r.Origin
				}
			}
			if diff := cmp.Diff(tc.rows, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
			if e.file != tc.file || e.trusted != tc.trusted || e.mode != tc.mode || len(e.warnings) != tc.warns {
				t.Errorf("file %q trusted %v mode %q warnings %q; want %q %v %q and %d warnings",
					e.file, e.trusted, e.mode, e.warnings, tc.file, tc.trusted, tc.mode, tc.warns)
			}
		})
	}
}
