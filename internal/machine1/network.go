package machine1

import (
	"fmt"
	"net/netip"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/berthapi"
	"github.com/berth-dev/berth/internal/machinenet"
	"github.com/berth-dev/berth/internal/netdiag"
	"github.com/berth-dev/berth/internal/netwatch"
)

// Network is what the adapter needs of berthd's container networking;
// *machinenet.Service implements it. nil makes the network methods of
// dev.berth.Manager1 NotSupported, and GetMachineAddresses reads inside
// the machine only.
type Network interface {
	Addresses(ifindices []int32) []netip.Addr
	Links() []netwatch.Link
	Forwards() []machinenet.Applied
	Add(f machinenet.Forward) error
	Remove(machine, proto string, hostPort uint16) error
	Diagnose(ifindices []int32) ([]netdiag.Finding, error)
}

// networkMethods are dev.berth.Manager1's network methods.
func (s *Server) networkMethods() iface {
	return iface{
		"ListLinks":         newMethod(s.listLinks),
		"ListLeases":        newMethod(s.listLeases),
		"ListPortForwards":  newMethod(s.listPortForwards),
		"AddPortForward":    newMethod(s.addPortForward),
		"RemovePortForward": newMethod(s.removePortForward),
		"DiagnoseNetwork":   newMethod(s.diagnoseNetwork),
	}
}

func (s *Server) network() (Network, error) {
	if s.opts.Network == nil {
		return nil, errNoNetwork
	}
	return s.opts.Network, nil
}

func (s *Server) listLinks(dbus.Message) ([]berthapi.Link, *dbus.Error) {
	n, err := s.network()
	if err != nil {
		return nil, busError(err)
	}
	out := []berthapi.Link{}
	for _, l := range n.Links() {
		out = append(out, berthapi.Link{Name: l.Name, Index: int32(l.Index), Zone: l.Zone,
			Subnet: text(l.Subnet), Address: text(l.HostAddr), Subnet6: text(l.Subnet6), Address6: text(l.HostAddr6)})
	}
	return out, nil
}

func (s *Server) listLeases(dbus.Message) ([]berthapi.Lease, *dbus.Error) {
	n, err := s.network()
	if err != nil {
		return nil, busError(err)
	}
	out := []berthapi.Lease{}
	for _, l := range n.Links() {
		for _, ls := range l.Leases {
			out = append(out, berthapi.Lease{Link: l.Name, Address: ls.Addr.String(), HWAddr: ls.HWAddr,
				Hostname: ls.Hostname, ExpiryUSec: uint64(ls.Expiry.UnixMicro())})
		}
	}
	return out, nil
}

func (s *Server) listPortForwards(dbus.Message) ([]berthapi.Forward, *dbus.Error) {
	n, err := s.network()
	if err != nil {
		return nil, busError(err)
	}
	out := []berthapi.Forward{}
	for _, f := range n.Forwards() {
		out = append(out, berthapi.Forward{Machine: f.Machine, Proto: f.Proto, HostPort: f.HostPort, ContainerPort: f.ContainerPort,
			Address: text(f.Addr), Address6: text(f.Addr6), Persistent: f.Persistent})
	}
	return out, nil
}

func (s *Server) addPortForward(msg dbus.Message, machine, proto string, hostPort, ctrPort uint16) *dbus.Error {
	if err := s.requireRoot(msg, "add port forward"); err != nil {
		return busError(err)
	}
	n, err := s.network()
	if err == nil {
		err = n.Add(machinenet.Forward{Machine: machine, Proto: proto, HostPort: hostPort, ContainerPort: ctrPort})
	}
	return busError(err)
}

func (s *Server) removePortForward(msg dbus.Message, machine, proto string, hostPort uint16) *dbus.Error {
	if err := s.requireRoot(msg, "remove port forward"); err != nil {
		return busError(err)
	}
	n, err := s.network()
	if err == nil {
		err = n.Remove(machine, proto, hostPort)
	}
	return busError(err)
}

func (s *Server) diagnoseNetwork(_ dbus.Message, name string) ([]berthapi.Finding, *dbus.Error) {
	n, err := s.network()
	if err != nil {
		return nil, busError(err)
	}
	m, err := s.opts.Machines.Get(name)
	if err != nil {
		return nil, busError(err)
	}
	fs, err := n.Diagnose(m.NetworkInterfaces)
	if err != nil {
		return nil, busError(err)
	}
	out := []berthapi.Finding{}
	for _, f := range fs {
		out = append(out, berthapi.Finding{Code: f.Code, Message: f.Message})
	}
	return out, nil
}

// leasedAddresses adds the machine's leased addresses that as (read
// inside the machine) lacks, after them.
func (s *Server) leasedAddresses(name string, as []addressRow) []addressRow {
	m, err := s.opts.Machines.Get(name)
	if s.opts.Network == nil || err != nil {
		return as
	}
	for _, a := range s.opts.Network.Addresses(m.NetworkInterfaces) {
		row := addressRow{unix.AF_INET6, a.AsSlice()}
		if a.Is4() {
			row.Family = unix.AF_INET
		}
		if !containsAddress(as, row) {
			as = append(as, row)
		}
	}
	return as
}

func containsAddress(as []addressRow, r addressRow) bool {
	for _, a := range as {
		if a.Family == r.Family && string(a.Addr) == string(r.Addr) {
			return true
		}
	}
	return false
}

// text is v's string form, "" for a zero value.
func text[T interface {
	IsValid() bool
	String() string
}](v T) string {
	if !v.IsValid() {
		return ""
	}
	return v.String()
}

// errNoNetwork is the error of network methods when berthd runs with
// --network=no.
var errNoNetwork = fmt.Errorf("container networking is off in berthd: %w", errNotSupported)
