package privusers

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		p    chownshift.Progress
		want string
	}{
		{chownshift.Progress{Done: 0, Estimate: 0}, "Shifting ownership   0% [                              ] (0/1 files, 0 files/s)"},
		{chownshift.Progress{Done: 4000, Estimate: 10000}, "Shifting ownership  40% [============                  ] (4000/10000 files, 2000 files/s)"},
		{chownshift.Progress{Done: 12000, Estimate: 10000}, "Shifting ownership 100% [==============================] (12000/12000 files, 6000 files/s)"},
	} {
		if diff := cmp.Diff(tc.want, progressLine(tc.p, 2*time.Second)); diff != "" {
			t.Errorf("progressLine(%+v): -want +got\n%s", tc.p, diff)
		}
	}
}
