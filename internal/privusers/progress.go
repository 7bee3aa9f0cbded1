package privusers

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/berth-dev/berth/internal/chownshift"
)

// TerminalProgress returns a Config.Progress that draws a progress bar of
// an ownership shift on out, and a function that ends the bar, or (nil, a
// no-op) when out is not a terminal: logs get the final Reason instead.
func TerminalProgress(out *os.File) (func(chownshift.Progress), func()) {
	if !term.IsTerminal(int(out.Fd())) {
		return nil, func() {}
	}
	return progressOn(out)
}

// barWidth is the number of cells of the drawn bar.
const barWidth = 30

// progressOn draws on any writer, at most every 100 ms, on one line that
// is cleared at the end. The estimate (inodes in use on the file system)
// is an upper bound, so the bar's end is the larger of the estimate and
// the count, and the final call completes it. (A small drawing of our own:
// a progress bar library would pull net/http and crypto into the spawner,
// and their initialisation into every container start.)
func progressOn(w io.Writer) (func(chownshift.Progress), func()) {
	start := time.Now()
	var last time.Time
	drawn := false
	report := func(p chownshift.Progress) {
		now := time.Now()
		if drawn && now.Sub(last) < 100*time.Millisecond && p.Done < p.Estimate {
			return
		}
		last, drawn = now, true
		fmt.Fprint(w, "\r"+progressLine(p, now.Sub(start)))
	}
	done := func() {
		if drawn {
			fmt.Fprint(w, "\r\x1b[K")
		}
	}
	return report, done
}

// progressLine renders one state of the bar, for example
// "Shifting ownership  40% [============                  ] (4096/10000 files, 2048 files/s)".
func progressLine(p chownshift.Progress, elapsed time.Duration) string {
	total := max(p.Estimate, p.Done, 1)
	filled := int(p.Done * barWidth / total)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", barWidth-filled)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(p.Done) / s
	}
	return fmt.Sprintf("Shifting ownership %3d%% [%s] (%d/%d files, %.0f files/s)",
		p.Done*100/total, bar, p.Done, total, rate)
}
