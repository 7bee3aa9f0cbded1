package machine1

import (
	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/dbus-interfaces"
	"github.com/berth-dev/berth/internal/machine"
)

func (s *Server) machineMethods() iface {
	return iface{
		"Terminate":         newMethod(s.machineTerminate),
		"Kill":              newMethod(s.machineKill),
		"GetAddresses":      newMethod(s.machineAddresses),
		"GetOSRelease":      newMethod(s.machineOSRelease),
		"GetUIDShift":       newMethod(s.machineUIDShift),
		"OpenPTY":           newMethod(s.machinePTY),
		"OpenLogin":         newMethod(s.machineLogin),
		"OpenShell":         newMethod(s.machineShell),
		"BindMount":         newMethod(s.machineBindMount),
		"CopyFrom":          newMethod(s.machineCopy(false)),
		"CopyTo":            newMethod(s.machineCopy(true)),
		"CopyFromWithFlags": newMethod(s.machineCopyWithFlags(false)),
		"CopyToWithFlags":   newMethod(s.machineCopyWithFlags(true)),
		"OpenRootDirectory": newMethod(s.machineRootDirectory),
	}
}

// target resolves the machine of a call, after requiring root when the
// call mutates (root is checked first, so nothing leaks to others).
func (s *Server) target(msg dbus.Message, action string) (string, error) {
	if action != "" {
		if err := s.requireRoot(msg, action); err != nil {
			return "", err
		}
	}
	m, err := s.machineOf(msg)
	return m.Name, err
}

func (s *Server) machineTerminate(msg dbus.Message) *dbus.Error {
	name, err := s.target(msg, "terminate machine")
	if err != nil {
		return busError(err)
	}
	return busError(s.opts.Machines.Terminate(name))
}

func (s *Server) machineKill(msg dbus.Message, who string, signal int32) *dbus.Error {
	name, err := s.target(msg, "kill machine")
	if err != nil {
		return busError(err)
	}
	return busError(s.opts.Machines.Kill(name, who, signal))
}

func (s *Server) machineAddresses(msg dbus.Message) ([]addressRow, *dbus.Error) {
	name, err := s.target(msg, "")
	if err != nil {
		return nil, busError(err)
	}
	return s.getMachineAddresses(msg, name)
}

func (s *Server) machineOSRelease(msg dbus.Message) (map[string]string, *dbus.Error) {
	name, err := s.target(msg, "")
	if err != nil {
		return nil, busError(err)
	}
	return s.getMachineOSRelease(msg, name)
}

func (s *Server) machineUIDShift(msg dbus.Message) (uint32, *dbus.Error) {
	name, err := s.target(msg, "")
	if err != nil {
		return 0, busError(err)
	}
	return s.getMachineUIDShift(msg, name)
}

func (s *Server) machinePTY(msg dbus.Message) (dbus.UnixFD, string, *dbus.Error) {
	name, err := s.target(msg, "open pty")
	if err != nil {
		return -1, "", busError(err)
	}
	return s.openMachinePTY(msg, name)
}

func (s *Server) machineLogin(msg dbus.Message) (dbus.UnixFD, string, *dbus.Error) {
	name, err := s.target(msg, "open login")
	if err != nil {
		return -1, "", busError(err)
	}
	return s.openMachineLogin(msg, name)
}

func (s *Server) machineShell(msg dbus.Message, user, path string, args, env []string) (dbus.UnixFD, string, *dbus.Error) {
	name, err := s.target(msg, "open shell")
	if err != nil {
		return -1, "", busError(err)
	}
	return s.openMachineShell(msg, name, user, path, args, env)
}

func (s *Server) machineBindMount(msg dbus.Message, src, dst string, ro, mkdir bool) *dbus.Error {
	name, err := s.target(msg, "bind mount")
	if err != nil {
		return busError(err)
	}
	return s.bindMountMachine(msg, name, src, dst, ro, mkdir)
}

func (s *Server) machineRootDirectory(msg dbus.Message) (dbus.UnixFD, *dbus.Error) {
	name, err := s.target(msg, "open root directory")
	if err != nil {
		return -1, busError(err)
	}
	return s.openMachineRootDirectory(msg, name)
}

// machineProps returns the properties of the machine of a call.
func (s *Server) machineProps(msg dbus.Message) (propSet, error) {
	m, err := s.machineOf(msg)
	if err != nil {
		return nil, err
	}
	return machineProperties(m), nil
}

func machineProperties(m machine.Machine) propSet {
	id := m.ID
	if id == nil {
		id = []byte{}
	}
	ifs := m.NetworkInterfaces
	if ifs == nil {
		ifs = []int32{}
	}
	v := dbus.MakeVariant
	return propSet{
		dbusinterfaces.Machine: {
			"Name": v(m.Name), "Id": v(id), "Timestamp": v(m.Timestamp), "TimestampMonotonic": v(m.TimestampMonotonic),
			"Service": v(m.Service), "Unit": v(m.Unit), "Leader": v(m.Leader), "Class": v(string(m.Class)),
			"RootDirectory": v(m.RootDirectory), "NetworkInterfaces": v(ifs), "State": v(string(m.State)),
		},
		dbusinterfaces.BerthMachine: {"State": v(string(m.State))},
	}
}
