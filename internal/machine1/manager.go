package machine1

import (
	"sync"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/machine"
)

// machineRow is one ListMachines entry: a(ssso).
type machineRow struct {
	Name, Class, Service string
	Path                 dbus.ObjectPath
}

// addressRow is one GetAddresses entry: a(iay).
type addressRow struct {
	Family int32
	Addr   []byte
}

// scopeProperty is one CreateMachine scope property: a(sv).
type scopeProperty struct {
	Name  string
	Value dbus.Variant
}

func (s *Server) managerMethods() iface {
	return iface{
		"GetMachine":                 newMethod(s.getMachine),
		"GetMachineByPID":            newMethod(s.getMachineByPID),
		"ListMachines":               newMethod(s.listMachines),
		"CreateMachine":              newMethod(s.createMachine),
		"CreateMachineWithNetwork":   newMethod(s.createMachineWithNetwork),
		"RegisterMachine":            newMethod(s.registerMachine),
		"RegisterMachineWithNetwork": newMethod(s.registerMachineWithNetwork),
		"UnregisterMachine":          newMethod(s.unregisterMachine),
		"TerminateMachine":           newMethod(s.terminateMachine),
		"KillMachine":                newMethod(s.killMachine),
		"GetMachineAddresses":        newMethod(s.getMachineAddresses),
		"GetMachineOSRelease":        newMethod(s.getMachineOSRelease),
		"GetMachineUIDShift":         newMethod(s.getMachineUIDShift),
		"OpenMachinePTY":             newMethod(s.openMachinePTY),
		"OpenMachineLogin":           newMethod(s.openMachineLogin),
		"OpenMachineShell":           newMethod(s.openMachineShell),
		"BindMountMachine":           newMethod(s.bindMountMachine),
		"CopyFromMachine":            newMethod(s.copyFromMachine),
		"CopyToMachine":              newMethod(s.copyToMachine),
		"CopyFromMachineWithFlags":   newMethod(s.copyFromMachineWithFlags),
		"CopyToMachineWithFlags":     newMethod(s.copyToMachineWithFlags),
		"OpenMachineRootDirectory":   newMethod(s.openMachineRootDirectory),
		"MapFromMachineUser":         newMethod(s.mapFrom(false)),
		"MapFromMachineGroup":        newMethod(s.mapFrom(true)),
		"MapToMachineUser":           newMethod(s.mapTo(false)),
		"MapToMachineGroup":          newMethod(s.mapTo(true)),
		"GetImage":                   newMethod(s.getImage),
		"ListImages":                 newMethod(s.listImages),
		"RemoveImage":                newMethod(s.removeImage),
		"RenameImage":                newMethod(s.renameImage),
		"CloneImage":                 newMethod(s.cloneImage),
		"MarkImageReadOnly":          newMethod(s.markImageReadOnly),
		"GetImageHostname":           newMethod(s.getImageHostname),
		"GetImageMachineID":          newMethod(s.getImageMachineID),
		"GetImageMachineInfo":        newMethod(s.getImageMachineInfo),
		"GetImageOSRelease":          newMethod(s.getImageOSRelease),
		"SetPoolLimit":               newMethod(s.setPoolLimit),
		"SetImageLimit":              newMethod(s.setImageLimit),
		"CleanPool":                  newMethod(s.cleanPool),
	}
}

func (s *Server) getMachine(_ dbus.Message, name string) (dbus.ObjectPath, *dbus.Error) {
	m, err := s.opts.Machines.Get(name)
	if err != nil {
		return "", busError(err)
	}
	return MachinePath(m.Name), nil
}

func (s *Server) getMachineByPID(msg dbus.Message, pid uint32) (dbus.ObjectPath, *dbus.Error) {
	if pid == 0 {
		var err error
		if pid, err = s.callerPID(msg); err != nil {
			return "", busError(err)
		}
	}
	m, err := s.opts.Machines.ByPID(pid)
	if err != nil {
		return "", busError(err)
	}
	return MachinePath(m.Name), nil
}

// listMachines answers with the reply of the registry's current
// generation, encoded once per change.
func (s *Server) listMachines(dbus.Message) (encoded, *dbus.Error) {
	body, err := s.list.get(s.opts.Machines)
	if err != nil {
		return encoded{}, busError(err)
	}
	return encoded{body}, nil
}

// listCache holds the ListMachines reply body of one registry generation.
type listCache struct {
	mu sync.Mutex
	// gen and body are the cached generation and its reply (read-only
	// once stored); guarded by mu.
	gen  uint64
	body []byte
}

func (c *listCache) get(ms Machines) ([]byte, error) {
	gen := ms.Generation()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.body != nil && c.gen == gen {
		return c.body, nil
	}
	list := ms.List()
	rows := make([]machineRow, len(list))
	for i, m := range list {
		rows[i] = machineRow{m.Name, string(m.Class), m.Service, MachinePath(m.Name)}
	}
	body, _, err := encodeBody([]any{rows})
	if err != nil {
		return nil, err
	}
	c.gen, c.body = gen, body
	return body, nil
}

func (s *Server) createMachine(msg dbus.Message, name string, id []byte, service, class string, leader uint32,
	root string, _ []scopeProperty) (dbus.ObjectPath, *dbus.Error) {
	return s.register(msg, machine.Spec{Name: name, ID: id, Service: service, Class: machine.Class(class), Leader: leader, RootDirectory: root})
}

func (s *Server) createMachineWithNetwork(msg dbus.Message, name string, id []byte, service, class string, leader uint32,
	root string, ifindices []int32, _ []scopeProperty) (dbus.ObjectPath, *dbus.Error) {
	return s.register(msg, machine.Spec{Name: name, ID: id, Service: service, Class: machine.Class(class), Leader: leader,
		RootDirectory: root, NetworkInterfaces: ifindices})
}

func (s *Server) registerMachine(msg dbus.Message, name string, id []byte, service, class string, leader uint32,
	root string) (dbus.ObjectPath, *dbus.Error) {
	return s.register(msg, machine.Spec{Name: name, ID: id, Service: service, Class: machine.Class(class), Leader: leader, RootDirectory: root})
}

func (s *Server) registerMachineWithNetwork(msg dbus.Message, name string, id []byte, service, class string, leader uint32,
	root string, ifindices []int32) (dbus.ObjectPath, *dbus.Error) {
	return s.register(msg, machine.Spec{Name: name, ID: id, Service: service, Class: machine.Class(class), Leader: leader,
		RootDirectory: root, NetworkInterfaces: ifindices})
}

// register serves Register* and Create*. Without systemd as PID 1 there
// is no scope to create, so Create* registers the leader where it runs,
// like Register*, and ignores the scope properties.
func (s *Server) register(msg dbus.Message, spec machine.Spec) (dbus.ObjectPath, *dbus.Error) {
	if err := s.requireRoot(msg, "register machine"); err != nil {
		return "", busError(err)
	}
	if spec.Leader == 0 {
		pid, err := s.callerPID(msg)
		if err != nil {
			return "", busError(err)
		}
		spec.Leader = pid
	}
	m, err := s.opts.Machines.Register(spec)
	if err != nil {
		return "", busError(err)
	}
	return MachinePath(m.Name), nil
}

func (s *Server) unregisterMachine(msg dbus.Message, name string) *dbus.Error {
	if err := s.requireRoot(msg, "unregister machine"); err != nil {
		return busError(err)
	}
	return busError(s.opts.Machines.Unregister(name))
}

func (s *Server) terminateMachine(msg dbus.Message, name string) *dbus.Error {
	if err := s.requireRoot(msg, "terminate machine"); err != nil {
		return busError(err)
	}
	return busError(s.opts.Machines.Terminate(name))
}

func (s *Server) killMachine(msg dbus.Message, name, who string, signal int32) *dbus.Error {
	if err := s.requireRoot(msg, "kill machine"); err != nil {
		return busError(err)
	}
	return busError(s.opts.Machines.Kill(name, who, signal))
}

func (s *Server) getMachineAddresses(_ dbus.Message, name string) ([]addressRow, *dbus.Error) {
	as, err := s.opts.Machines.Addresses(name)
	if err != nil {
		return nil, busError(err)
	}
	out := make([]addressRow, len(as))
	for i, a := range as {
		out[i] = addressRow{a.Family, a.IP}
	}
	return s.leasedAddresses(name, out), nil
}

func (s *Server) getMachineOSRelease(_ dbus.Message, name string) (map[string]string, *dbus.Error) {
	m, err := s.opts.Machines.OSRelease(name)
	return m, busError(err)
}

func (s *Server) getMachineUIDShift(_ dbus.Message, name string) (uint32, *dbus.Error) {
	n, err := s.opts.Machines.UIDShift(name)
	return n, busError(err)
}

func (s *Server) mapFrom(group bool) func(dbus.Message, string, uint32) (uint32, *dbus.Error) {
	return func(_ dbus.Message, name string, id uint32) (uint32, *dbus.Error) {
		out, err := s.opts.Machines.MapFromMachine(name, id, group)
		return out, busError(err)
	}
}

func (s *Server) mapTo(group bool) func(dbus.Message, uint32) (string, dbus.ObjectPath, uint32, *dbus.Error) {
	return func(_ dbus.Message, id uint32) (string, dbus.ObjectPath, uint32, *dbus.Error) {
		m, in, err := s.opts.Machines.MapToMachine(id, group)
		if err != nil {
			return "", "", 0, busError(err)
		}
		return m.Name, MachinePath(m.Name), in, nil
	}
}
