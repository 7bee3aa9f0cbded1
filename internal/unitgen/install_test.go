package unitgen

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationInstallVerify installs the units with make install into a
// DESTDIR and checks that systemd-analyze verify accepts them without a
// single warning, and that the installed template generates a unit.
func TestIntegrationInstallVerify(t *testing.T) {
	testbed.RequireRoot(t)
	mk := testbed.RequireTool(t, "make")
	analyze := testbed.RequireTool(t, "systemd-analyze")
	dest := t.TempDir()
	bindir := filepath.Join(dest, "bin") // ExecStart= paths must exist for verify
	cmd := exec.Command(mk, "-o", "build", "install", "DESTDIR="+dest, "BINDIR="+bindir, "BUILDDIR="+t.TempDir())
	cmd.Dir = testbed.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	if err := os.MkdirAll(bindir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"berthd", "berth-nspawn"} {
		if err := os.WriteFile(filepath.Join(bindir, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	unitDir := filepath.Join(dest, "usr/local/lib/systemd/system")
	units := []string{"berth-nspawn@web-1.service", "berthd.service", Target}
	args := []string{"verify", "--man=no", "--generators=no"}
	for _, u := range units {
		args = append(args, filepath.Join(unitDir, u))
	}
	var stderr bytes.Buffer
	v := exec.Command(analyze, args...)
	v.Stderr = &stderr
	if err := v.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, stderr.String())
	}
	tmpl, err := os.ReadFile(filepath.Join(unitDir, Template))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(tmpl), "@BINDIR@") {
		t.Fatal("make install left @BINDIR@ in the template")
	}
	u, err := Generate(tmpl, Settings{Machine: "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(bindir, "berth-nspawn"); u.ExecStart[0] != want {
		t.Errorf("ExecStart[0] = %q, want %q", u.ExecStart[0], want)
	}
}
