// Command berthctl lists and controls machines through berthd's bus API.
package main

import (
	"os"

	"github.com/berth-dev/berth/internal/ctl"
)

func main() {
	os.Exit(ctl.Execute(os.Args[1:], os.Stdout, os.Stderr))
}
