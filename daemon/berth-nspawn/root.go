package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/berth-dev/berth/internal/paths"
)

// rootEnv names the environment variable that places every host path
// berth-nspawn uses (image directories, .nspawn directories, runtime
// state) below a directory. berthd --root DIR sets it in the units it
// generates, so -M NAME finds the image in DIR's pools.
const rootEnv = "BERTH_ROOT"

// hostPaths returns the host paths: below $BERTH_ROOT when it is set,
// else the real host's.
func hostPaths(getenv func(string) string) (paths.Paths, error) {
	root := getenv(rootEnv)
	if root == "" {
		return paths.Default(), nil
	}
	if !filepath.IsAbs(root) {
		return paths.Paths{}, fmt.Errorf("%s=%q: not an absolute path", rootEnv, root)
	}
	return paths.Under(filepath.Clean(root)), nil
}

// envHelp is the part of --help about the environment.
const envHelp = `
Environment:
  BERTH_ROOT=DIR   look up images (-M), .nspawn files and berth's runtime
                   state below DIR instead of / (berthd --root DIR sets it
                   in the machines' units)
`

// printEnvHelp writes envHelp to w.
func printEnvHelp(w io.Writer) { _, _ = io.WriteString(w, envHelp) }
