package privusers

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
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

// progressOn draws on any writer. The estimate (inodes in use on the file
// system) is an upper bound, so the bar's end is the estimate and the bar
// is completed by the final call.
func progressOn(w io.Writer) (func(chownshift.Progress), func()) {
	var bar *progressbar.ProgressBar
	report := func(p chownshift.Progress) {
		if bar == nil {
			bar = progressbar.NewOptions64(int64(max(p.Estimate, p.Done)),
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription("Shifting ownership"),
				progressbar.OptionShowCount(),
				progressbar.OptionSetItsString("files"),
				progressbar.OptionShowIts(),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish())
		}
		if p.Done > p.Estimate {
			bar.ChangeMax64(int64(p.Done))
		}
		_ = bar.Set64(int64(p.Done))
	}
	done := func() {
		if bar != nil {
			_ = bar.Finish()
		}
	}
	return report, done
}
