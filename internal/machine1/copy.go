package machine1

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/enter"
	"github.com/berth-dev/berth/internal/inroot"
	"github.com/berth-dev/berth/internal/machine"
	"github.com/berth-dev/berth/internal/treecopy"
)

// copyReplace is machined's MACHINE_COPY_REPLACE, the only copy flag.
const copyReplace = 1

// copyPaths validates machined's copy arguments: absolute, normalized
// paths that are not "/", destination "" meaning the source path.
func copyPaths(src, dst string, flags uint64) (string, string, error) {
	if flags&^copyReplace != 0 {
		return "", "", fmt.Errorf("copy: unknown flags %#x: %w", flags, errInvalidArgs)
	}
	if dst == "" {
		dst = src
	}
	for _, p := range []string{src, dst} {
		if !strings.HasPrefix(p, "/") || filepath.Clean(p) != p || p == "/" {
			return "", "", fmt.Errorf("copy: path %q must be absolute, normalized and not /: %w", p, errInvalidArgs)
		}
	}
	return src, dst, nil
}

// copyMachine copies between the host and a container. Container paths
// resolve inside the container's root (through its mount namespace, via
// /proc/LEADER/root) and never follow a symlink out of it; see treecopy.
func (s *Server) copyMachine(msg dbus.Message, name, src, dst string, flags uint64, toMachine bool) error {
	if err := s.requireRoot(msg, "copy"); err != nil {
		return err
	}
	src, dst, err := copyPaths(src, dst, flags)
	if err != nil {
		return err
	}
	if name == machine.HostName {
		return fmt.Errorf("copy: the host is not a container: %w", machine.ErrNotSupported)
	}
	ns, err := s.opts.Machines.Enter(name)
	if err != nil {
		return err
	}
	defer ns.Close()
	o := treecopy.Options{Replace: flags&copyReplace != 0, KeepSetID: toMachine}
	hostPath, machinePath := src, dst
	if !toMachine {
		hostPath, machinePath = dst, src
	}
	if shift, err := s.opts.Machines.UIDShift(name); err == nil && shift != 0 && toMachine {
		o.Chown, o.UID, o.GID = true, int(shift), int(shift)
	}
	hostDir, err := os.OpenFile(filepath.Dir(hostPath), os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	defer hostDir.Close()
	machineDir, err := inroot.OpenDir(ns.Root, filepath.Dir(machinePath))
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	defer machineDir.Close()
	if toMachine {
		return treecopy.Copy(hostDir, filepath.Base(src), machineDir, filepath.Base(dst), o)
	}
	return treecopy.Copy(machineDir, filepath.Base(src), hostDir, filepath.Base(dst), o)
}

func (s *Server) copyFromMachine(msg dbus.Message, name, src, dst string) *dbus.Error {
	return busError(s.copyMachine(msg, name, src, dst, 0, false))
}

func (s *Server) copyToMachine(msg dbus.Message, name, src, dst string) *dbus.Error {
	return busError(s.copyMachine(msg, name, src, dst, 0, true))
}

func (s *Server) copyFromMachineWithFlags(msg dbus.Message, name, src, dst string, flags uint64) *dbus.Error {
	return busError(s.copyMachine(msg, name, src, dst, flags, false))
}

func (s *Server) copyToMachineWithFlags(msg dbus.Message, name, src, dst string, flags uint64) *dbus.Error {
	return busError(s.copyMachine(msg, name, src, dst, flags, true))
}

// machineCopy returns the Machine object's Copy* method for a direction.
func (s *Server) machineCopy(toMachine bool) func(dbus.Message, string, string) *dbus.Error {
	return func(msg dbus.Message, src, dst string) *dbus.Error {
		return s.machineCopyWithFlags(toMachine)(msg, src, dst, 0)
	}
}

func (s *Server) machineCopyWithFlags(toMachine bool) func(dbus.Message, string, string, uint64) *dbus.Error {
	return func(msg dbus.Message, src, dst string, flags uint64) *dbus.Error {
		name, err := s.target(msg, "copy")
		if err != nil {
			return busError(err)
		}
		return busError(s.copyMachine(msg, name, src, dst, flags, toMachine))
	}
}

func (s *Server) bindMountMachine(msg dbus.Message, name, src, dst string, readOnly, mkdir bool) *dbus.Error {
	return busError(s.bindMount(msg, name, src, dst, readOnly, mkdir))
}

// bindMount mounts a host path into a running container; see
// enter.BindMount.
func (s *Server) bindMount(msg dbus.Message, name, src, dst string, readOnly, mkdir bool) error {
	if err := s.requireRoot(msg, "bind mount"); err != nil {
		return err
	}
	src, dst, err := copyPaths(src, dst, 0)
	if err != nil {
		return err
	}
	if name == machine.HostName {
		return fmt.Errorf("bind mount: the host is not a container: %w", machine.ErrNotSupported)
	}
	ns, err := s.opts.Machines.Enter(name)
	if err != nil {
		return err
	}
	defer ns.Close()
	return enter.BindMount(ns, src, dst, readOnly, mkdir)
}
