package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWritesPages runs the generator and checks the root page names the
// verbs.
func TestWritesPages(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command("go", "run", ".", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("manpages: %v\n%s", err, out)
	}
	page, err := os.ReadFile(filepath.Join(dir, "berthctl.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".TH \"BERTHCTL\" \"1\"", `\fBberthctl-list(1)\fP`, `\fBberthctl-status(1)\fP`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("berthctl.1 lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "berthctl-list.1")); err != nil {
		t.Errorf("no page for list: %v", err)
	}
}
