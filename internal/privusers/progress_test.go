package privusers

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/chownshift"
)

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	report, done := progressOn(&buf)
	for _, p := range []chownshift.Progress{{Done: 4096, Estimate: 10000}, {Done: 8192, Estimate: 10000}, {Done: 12000, Estimate: 10000}} {
		report(p)
	}
	done()
	if !strings.Contains(buf.String(), "Shifting ownership") {
		t.Errorf("no progress bar drawn: %q", buf.String())
	}
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if report, _ := TerminalProgress(f); report != nil {
		t.Error("progress bar drawn on a file that is not a terminal")
	}
}
