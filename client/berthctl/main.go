// Command berthctl lists and controls machines through berthd's bus API.
// Its one-call verbs run in C before the Go runtime starts (package
// early); everything else runs here.
package main

import (
	"os"

	"github.com/berth-dev/berth/internal/ctl"
	_ "github.com/berth-dev/berth/internal/ctl/early" // the constructor that runs the one-call verbs
)

func main() {
	os.Exit(ctl.Execute(os.Args[1:], os.Stdout, os.Stderr))
}
