//go:build linux && !(cgo && amd64)

package spawn

import (
	"errors"

	"github.com/berth-dev/berth/internal/idmap"
)

// errNoClone says cloneStage is not built here: the stage of a
// user-namespaced machine is started with syscall.ForkExec.
var errNoClone = errors.New("clone stage: not built for this platform")

// cloneStage is built for x86-64 only (see stageclone_cgo.go).
func cloneStage(flags uintptr, m []idmap.Mapping, cgfd int, fds []uintptr) (*stage, error) {
	return nil, errNoClone
}
