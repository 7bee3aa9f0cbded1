package spawn

import (
	"path/filepath"

	"github.com/berth-dev/berth/internal/paths"
)

// propagationDir is the host propagation directory of machine, shown in
// the container at rootfs.IncomingDir: berth's counterpart of nspawn's
// /run/systemd/nspawn/propagate/NAME.
func propagationDir(p paths.Paths, machine string) string {
	return filepath.Join(p.Run, "propagate", machine)
}
