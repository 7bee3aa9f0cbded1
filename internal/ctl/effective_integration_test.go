package ctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntegrationBerthctlEffectiveSettings shows a machine's effective
// .nspawn settings through berthd: from its unit's command line while it
// is down, from its running berth-nspawn once started, with an untrusted
// file's privileged settings reported as ignored and a trusted file's
// applied.
func TestIntegrationBerthctlEffectiveSettings(t *testing.T) {
	b := newBed(t)
	name := randomName("eff-")
	b.image(t, name)
	untrusted := filepath.Join(b.p.Pool, name+".nspawn")
	trusted := filepath.Join(b.p.SettingsTrusted[0], name+".nspawn")
	const file = "[Exec]\nHostname=fromfile\nLimitNOFILE=100\n"
	tests := []struct {
		name    string
		path    string
		args    []string
		want    []string // substrings of lines
		notWant []string
	}{
		{
			name: "no file", args: []string{"settings", name},
			want:    []string{"Command line (unit): ", " --machine=" + name, "Settings file: none", "Settings mode: override", "Exec    Boot ", " yes ", "command line"},
			notWant: []string{"default", "Warnings:"},
		},
		{
			name: "untrusted file", path: untrusted, args: []string{"settings", name},
			want: []string{"Settings file: " + untrusted + " (untrusted)", "Hostname ", "fromfile", untrusted + ":2",
				"Warnings:", untrusted + ":3: ignoring LimitNOFILE="},
			notWant: []string{untrusted + ":3\n"},
		},
		{
			name: "trusted file", path: trusted, args: []string{"settings", name},
			want:    []string{"Settings file: " + trusted + " (trusted)", "LimitNOFILE ", trusted + ":3"},
			notWant: []string{"Warnings:"},
		},
		{
			name: "all shows defaults", args: []string{"settings", "--all", name},
			want: []string{"Files   ReadOnly ", "default"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path != "" {
				writeTestFile(t, tc.path, file)
			}
			checkLines(t, b.ok(t, tc.args...), tc.want, tc.notWant)
		})
	}
	t.Run("running machine", func(t *testing.T) {
		b.ok(t, "start", name)
		t.Cleanup(func() { b.ctl(t, "poweroff", name) })
		checkLines(t, b.ok(t, "settings", name), []string{"Command line (berth-nspawn PID ", "Hostname "}, nil)
	})
	t.Run("bad input", func(t *testing.T) {
		for args, want := range map[string]string{"missing-image": "org.freedesktop.machine1.NoSuchImage", "bad/name": "InvalidArgs"} {
			if _, errOut, code := b.ctl(t, "settings", args); code != 1 || !strings.Contains(errOut, want) {
				t.Errorf("settings %s: exit %d, %q; want %s", args, code, errOut, want)
			}
		}
	})
}

// checkLines fails t for each of want missing from out and each of
// notWant found in it.
func checkLines(t *testing.T, out string, want, notWant []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	for _, w := range notWant {
		if strings.Contains(out, w) {
			t.Errorf("output has %q:\n%s", w, out)
		}
	}
}

// writeTestFile writes data to path, creating its directory.
func writeTestFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
