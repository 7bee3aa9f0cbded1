// Command manpages writes berthctl's man pages (berthctl.1 and one page
// per verb) into the directory given as its only argument. `make man`
// runs it; `make install` installs the result.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra/doc"

	"github.com/berth-dev/berth/internal/ctl"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: manpages DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "manpages:", err)
		os.Exit(1)
	}
	root := ctl.NewCommand(io.Discard)
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Title: "BERTHCTL", Section: "1", Source: "berth", Manual: "berth manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		fmt.Fprintln(os.Stderr, "manpages:", err)
		os.Exit(1)
	}
}
