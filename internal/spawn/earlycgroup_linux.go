package spawn

import (
	"fmt"

	"github.com/berth-dev/berth/internal/containercgroup"
	"golang.org/x/sys/unix"
)

// earlyCgroup creates the container's cgroup before the stage starts, so
// that the stage is cloned straight into it (CLONE_INTO_CGROUP) instead of
// being moved there once it runs: a move write-locks the hierarchy's
// thread-group lock, which stalls every fork, exec and exit on the host
// (the starting stage's own threads included) and is the slow part of the
// move. It does so when no machine manager will move the leader into a
// scope of its own (no registration, or --keep-unit); otherwise it returns
// nil and the stage is placed after registration, as before.
func earlyCgroup(sc *stageConfig, o Options) (*containercgroup.Group, error) {
	if !sc.Cgroup || (o.Registrar != nil && !sc.Config.KeepUnit) {
		return nil, nil
	}
	return containercgroup.Create(containercgroup.Options{Root: o.Paths.Cgroup, Machine: sc.Config.Machine, KeepUnit: sc.Config.KeepUnit})
}

// openCgroup opens cg's directory for CLONE_INTO_CGROUP (-1 without cg).
func openCgroup(cg *containercgroup.Group) (int, error) {
	if cg == nil {
		return -1, nil
	}
	fd, err := unix.Open(cg.Path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open cgroup %s: %w", cg.Path, err)
	}
	return fd, nil
}
