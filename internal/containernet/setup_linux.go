package containernet

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/rtnl"
)

// Network is the host side of one container's network, as Setup made it.
type Network struct {
	spec  Spec
	h     *rtnl.Conn
	undo  cleanup
	links []string // host-side links to delete at Close
	ports string   // the ports file, or ""
	// closing is set by Close: the container is gone, nothing to move back.
	closing bool
	// IfIndices are the host-side interface indices to register with
	// machine1: the veth's, or the bridge's in bridge and zone mode.
	IfIndices []int
}

// HostMachineID reads the host's machine ID from path (/etc/machine-id).
func HostMachineID(path string) ([16]byte, error) {
	var id [16]byte
	data, err := os.ReadFile(path)
	if err != nil {
		return id, fmt.Errorf("%w: %w", ErrNoMachineID, err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(b) != 16 {
		return id, fmt.Errorf("%w: %s is malformed", ErrNoMachineID, path)
	}
	copy(id[:], b)
	return id, nil
}

// Setup creates the container's links in the caller's network namespace
// and moves their container sides into the namespace of s.Leader, in
// nspawn's order (veth, extra veths, bridge or zone, moved interfaces),
// and writes the ports file. On failure everything done is undone. It
// needs CAP_NET_ADMIN in both namespaces.
func Setup(s Spec) (*Network, error) {
	h, err := rtnl.Open()
	if err != nil {
		return nil, fmt.Errorf("network setup: %w", err)
	}
	nw := &Network{spec: s, h: h}
	steps := []func() error{nw.veth, nw.vethExtra, nw.interfaces, nw.writePorts}
	for _, step := range steps {
		if err := step(); err != nil {
			nw.undo.run()
			h.Close()
			return nil, err
		}
	}
	return nw, nil
}

// veth creates ve-NAME (vb-NAME) with host0 in the container, and joins
// the bridge or zone.
func (n *Network) veth() error {
	net := n.spec.Network
	if !net.Veth {
		return nil
	}
	prefix := PrefixVeth
	if net.Bridge != "" || net.Zone != "" {
		prefix = PrefixBridge
	}
	name, alt := HostIfName(prefix, n.spec.Machine)
	hostMAC := MAC(n.spec.HostID, n.spec.Machine, hostHashKey, 0)
	contMAC := MAC(n.spec.HostID, n.spec.Machine, containerHashKey, 0)
	l, err := n.addVeth(name, hostMAC, ContainerIfName, contMAC)
	if err != nil {
		return err
	}
	if alt != "" {
		if n.spec.Warnf != nil {
			n.spec.Warnf("Host interface name %s too long, shortened to %s (%s is its altname).\n", alt, name, alt)
		}
		if err := n.h.AddAltName(l.Index, alt); err != nil {
			return fmt.Errorf("add altname %s to %s: %w", alt, name, err)
		}
	}
	switch {
	case net.Bridge != "":
		return n.join(l, net.Bridge, false)
	case net.Zone != "":
		return n.join(l, PrefixZone+net.Zone, true)
	}
	n.IfIndices = []int{l.Index}
	return nil
}

// addVeth creates a veth pair with the peer in the container and records
// the host side for deletion.
func (n *Network) addVeth(host string, hostMAC []byte, peer string, peerMAC []byte) (rtnl.Link, error) {
	index, err := n.h.AddVeth(host, hostMAC, peer, peerMAC, n.spec.Leader)
	if errors.Is(err, unix.EEXIST) && n.waitGone(host) {
		index, err = n.h.AddVeth(host, hostMAC, peer, peerMAC, n.spec.Leader)
	}
	if errors.Is(err, unix.EEXIST) {
		return rtnl.Link{}, fmt.Errorf("create veth %s: an interface of that name exists for more than %v "+
			"(is a machine of this name running?): %w", host, oldLinkWait, err)
	}
	if err != nil {
		return rtnl.Link{}, fmt.Errorf("create veth %s: %w", host, err)
	}
	n.links = append(n.links, host)
	n.undo.add(func() { n.deleteLink(host) })
	if index > 0 { // echoed by the kernel
		return rtnl.Link{Index: index, Name: host}, nil
	}
	l, err := n.h.LinkByName(host)
	if err != nil {
		return rtnl.Link{}, fmt.Errorf("create veth %s: %w", host, err)
	}
	return l, nil
}

// oldLinkWait bounds how long a new veth waits for an interface of its
// name to go. The kernel deletes a stopped machine's veth only when it
// tears down the machine's network namespace, asynchronously and after
// the last process has exited, so a machine started again at once can
// find its old host-side interface still there for a moment.
const oldLinkWait = 5 * time.Second

// waitGone polls until no link is called name, and reports whether that
// happened within oldLinkWait.
func (n *Network) waitGone(name string) bool {
	deadline := time.Now().Add(oldLinkWait)
	for pause := time.Millisecond; time.Now().Before(deadline); pause = min(2*pause, 50*time.Millisecond) {
		if _, err := n.h.LinkByName(name); errors.Is(err, rtnl.ErrLinkNotFound) {
			return true
		}
		time.Sleep(pause)
	}
	return false
}

// join adds l to the bridge br (created on demand for a zone) and sets it
// up; the bridge's index is the one registered.
func (n *Network) join(l rtnl.Link, br string, zone bool) error {
	if zone {
		unlock, err := zoneLock(n.spec.ZoneLockPath())
		if err != nil {
			return err
		}
		defer unlock()
		if _, _, err := zoneBridge(n.h, br); err != nil {
			return err
		}
		n.undo.add(func() {
			n.deleteLink(l.Name) // a member until deleted
			n.removeZone()
		})
	}
	b, err := n.h.LinkByName(br)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", br, err)
	}
	if err := n.h.SetMaster(l.Index, b.Index); err != nil {
		return fmt.Errorf("add %s to bridge %s: %w", l.Name, br, err)
	}
	if err := n.h.SetUp(l.Index); err != nil {
		return fmt.Errorf("set %s up: %w", l.Name, err)
	}
	n.IfIndices = []int{b.Index}
	return nil
}

// vethExtra creates the --network-veth-extra pairs.
func (n *Network) vethExtra() error {
	for i, p := range n.spec.Network.VethExtra {
		hostMAC := MAC(n.spec.HostID, n.spec.Machine, vethExtraHostHashKey, uint64(i))
		contMAC := MAC(n.spec.HostID, n.spec.Machine, vethExtraContainerHashKey, uint64(i))
		if _, err := n.addVeth(p.Host, hostMAC, p.Container, contMAC); err != nil {
			return err
		}
	}
	return nil
}

// interfaces moves the --network-interface links into the container; on
// failure the moved ones are moved back.
func (n *Network) interfaces() error {
	for _, name := range n.spec.Network.Interfaces {
		l, err := n.h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("network interface %s: %w", name, err)
		}
		if err := n.h.SetNsPid(l.Index, n.spec.Leader); err != nil {
			return fmt.Errorf("move %s into the container: %w", name, err)
		}
		n.undo.add(func() { n.moveBack(name) })
	}
	return nil
}

// moveBack moves a link from the container back to the caller's
// namespace.
func (n *Network) moveBack(name string) {
	if n.closing {
		return
	}
	ns, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", n.spec.Leader), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(ns)
	self, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(self)
	h, err := rtnl.OpenIn(ns)
	if err != nil {
		return
	}
	defer h.Close()
	if l, err := h.LinkByName(name); err == nil {
		_ = h.SetNsFd(l.Index, self)
	}
}

// writePorts records the port forwards for berthd.
func (n *Network) writePorts() error {
	if len(n.spec.Network.Ports) == 0 {
		return nil
	}
	f := PortsFile{Machine: n.spec.Machine, Leader: n.spec.Leader, Ports: n.spec.Network.Ports}
	if len(n.IfIndices) > 0 {
		f.IfIndex = n.IfIndices[0]
	}
	if err := WritePorts(n.spec.PortsDir(), f); err != nil {
		return err
	}
	n.ports = PortsPath(n.spec.PortsDir(), n.spec.Machine)
	n.undo.add(func() { _ = os.Remove(n.ports) })
	return nil
}

// deleteLink deletes a host-side link if it still exists.
func (n *Network) deleteLink(name string) {
	if l, err := n.h.LinkByName(name); err == nil {
		_ = n.h.DelLink(l.Index)
	}
}

// removeZone deletes the zone bridge once it has no member left.
func (n *Network) removeZone() {
	unlock, err := zoneLock(n.spec.ZoneLockPath())
	if err != nil {
		return
	}
	defer unlock()
	_ = removeZoneIfEmpty(n.h, PrefixZone+n.spec.Network.Zone)
}

// Close removes the ports file, deletes the host-side links (the kernel
// deletes them anyway when the container's namespace goes, but later) and
// removes an empty zone bridge. It is called when the container ended;
// moved interfaces are left to the kernel, as nspawn v252 does.
func (n *Network) Close() {
	n.closing = true
	n.undo.run()
	n.h.Close()
}
