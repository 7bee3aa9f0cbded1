//go:build linux

package machine

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/enter"
)

// Enter opens the namespaces and root directory of a container's leader,
// each checked against the leader's pidfd, for enter.Start. The host is
// (nil, nil). The caller closes the result.
func (r *Registry) Enter(name string) (*enter.Namespaces, error) {
	if name == HostName {
		return nil, nil
	}
	e, err := r.inspectable(name)
	if err != nil {
		return nil, fmt.Errorf("enter machine: %w", err)
	}
	ns := &enter.Namespaces{}
	open := func(dst **os.File, file string, flags int) {
		if err == nil {
			*dst, err = e.leader.openProc(file, flags)
		}
	}
	open(&ns.Mount, "ns/mnt", unix.O_RDONLY)
	open(&ns.UTS, "ns/uts", unix.O_RDONLY)
	open(&ns.IPC, "ns/ipc", unix.O_RDONLY)
	open(&ns.Net, "ns/net", unix.O_RDONLY)
	open(&ns.PID, "ns/pid", unix.O_RDONLY)
	open(&ns.Cgroup, "ns/cgroup", unix.O_RDONLY)
	open(&ns.Root, "root", unix.O_PATH|unix.O_DIRECTORY)
	if err == nil {
		err = r.enterUserNS(e, ns)
	}
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("enter machine %s: %w", name, err)
	}
	return ns, nil
}

// enterUserNS adds the leader's user namespace when it is not ours.
func (r *Registry) enterUserNS(e *entry, ns *enter.Namespaces) error {
	mine, err := selfNSInode("user")
	if err != nil {
		return err
	}
	theirs, err := e.leader.nsInode("user")
	if err != nil || theirs == mine {
		return err
	}
	ns.User, err = e.leader.openProc("ns/user", unix.O_RDONLY)
	return err
}
