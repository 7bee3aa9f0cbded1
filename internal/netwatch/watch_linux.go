package netwatch

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/addrpool"
	"github.com/berth-dev/berth/internal/dhcpserver"
	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/nsthread"
	"github.com/berth-dev/berth/internal/radv"
	"github.com/berth-dev/berth/internal/rtnl"
)

// Run configures the links present and those that appear until ctx is
// done, then stops the DHCP servers (saving their leases). Addresses and
// NAT rules are left in place, so containers keep working while the
// daemon restarts.
func (w *Watcher) Run(ctx context.Context) error {
	h, err := w.openRTNL()
	if err != nil {
		return fmt.Errorf("netwatch: %w", err)
	}
	defer h.Close()
	sub, err := subscribeLinks(w.cfg.NetNS)
	if err != nil {
		return fmt.Errorf("netwatch: %w", err)
	}
	defer sub.close()
	defer context.AfterFunc(ctx, sub.close)()
	if err := sub.dump(); err != nil {
		return fmt.Errorf("netwatch: %w", err)
	}
	defer w.nat.Disconnect() // the NAT rules stay
	defer w.stopAll()
	for {
		err := sub.next(w.wanted, func(typ uint16, link rtnl.Link) { w.update(h, typ, link) })
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return fmt.Errorf("netwatch: %w", err)
		}
	}
}

// openRTNL opens the route netlink socket Run changes links and
// addresses with, in the Watcher's namespace.
func (w *Watcher) openRTNL() (*rtnl.Conn, error) {
	if w.cfg.NetNS == "" {
		return rtnl.Open()
	}
	ns, err := unix.Open(w.cfg.NetNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: w.cfg.NetNS, Err: err}
	}
	defer unix.Close(ns)
	return rtnl.OpenIn(ns)
}

// wanted reports whether a link message of type typ about the link with
// this index and name needs update: one that removes or renames a managed
// link, or one about an unmanaged link of a name berth manages. The other
// messages about managed links (state, carrier, statistics) change
// nothing.
func (w *Watcher) wanted(typ uint16, index int, name string) bool {
	w.mu.Lock()
	cur, known := w.links[index]
	w.mu.Unlock()
	if known {
		return typ == unix.RTM_DELLINK || cur.link.Name != name
	}
	return manageableName(name)
}

// update reacts to one link message of type typ.
func (w *Watcher) update(h *rtnl.Conn, typ uint16, link rtnl.Link) {
	ok, zone := Manageable(link.Name, link.Kind)
	w.mu.Lock()
	cur, known := w.links[link.Index]
	w.mu.Unlock()
	switch {
	case typ == unix.RTM_DELLINK && known:
		w.teardown(cur)
	case typ == unix.RTM_NEWLINK && known && cur.link.Name != link.Name:
		w.teardown(cur) // renamed away or to another container's name
		w.update(h, typ, link)
	case typ == unix.RTM_NEWLINK && !known && ok:
		if err := w.setup(h, link, zone); err != nil {
			w.log.Printf("link %s not configured: %v", link.Name, err)
		}
	}
}

// setup configures a new link; on failure it undoes what it did.
func (w *Watcher) setup(h *rtnl.Conn, link rtnl.Link, zone bool) (err error) {
	name := link.Name
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	// One dump of the namespace's addresses serves the link's IPv4 and
	// IPv6 checks and the prefixes in use.
	addrs, err := h.Addrs(unix.AF_UNSPEC)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	remembered := w.rememberedSubnet(name)
	subnet, added, err := w.address(h, link, zone, addrs, remembered)
	if err != nil {
		return err
	}
	undo = append(undo, func() { w.pool.Release(name) })
	if added {
		undo = append(undo, func() { _ = h.DelAddr(link.Index, hostPrefix(subnet)) })
	}
	sub6 := w.address6(h, link, addrs)
	if err := h.SetUp(link.Index); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	m, err := w.serve(name, subnet)
	if err != nil {
		return err
	}
	m.link.Index, m.link.Zone = link.Index, zone
	undo = append(undo, func() { m.stop() })
	subnets := []netip.Prefix{subnet}
	if sub6.IsValid() && w.advertise(m, link, sub6) {
		subnets = append(subnets, sub6)
	}
	if err := w.nat.AddLink(name, subnets...); err != nil {
		return err
	}
	if subnet != remembered {
		w.rememberSubnet(name, subnet)
	}
	w.mu.Lock()
	w.links[m.link.Index] = m
	w.mu.Unlock()
	w.log.Printf("link %s configured: subnet %v", name, subnet)
	return nil
}

// address finds or gives the link its subnet and host address, and
// reports whether it added the address; addrs are the namespace's and
// remembered is the subnet the link had last time, if any.
func (w *Watcher) address(h *rtnl.Conn, link rtnl.Link, zone bool, addrs []rtnl.Addr, remembered netip.Prefix) (netip.Prefix, bool, error) {
	name := link.Name
	bits := addrpool.VethBits
	if zone {
		bits = addrpool.ZoneBits
	}
	if p, ok := existing(addrs, link.Index, bits); ok && w.pool.Hold(name, p) == nil {
		return p, false, nil
	}
	inUse, err := addrpool.InUseWith(h, addrs)
	if err != nil {
		return netip.Prefix{}, false, err
	}
	p, err := w.pool.Allocate(name, bits, inUse, remembered)
	if err != nil {
		return netip.Prefix{}, false, err
	}
	if err := h.AddAddr(link.Index, hostPrefix(p), 0); err != nil {
		w.pool.Release(name)
		return netip.Prefix{}, false, fmt.Errorf("address %s: %w", name, err)
	}
	return p, true, nil
}

// existing returns the subnet of a fitting address already on the link,
// of the namespace's addrs: IPv4, the right size, private, and the
// subnet's first address.
func existing(addrs []rtnl.Addr, index, bits int) (netip.Prefix, bool) {
	for _, a := range addrs {
		if a.Index != index || !a.Is4() {
			continue
		}
		ap := addrpool.FromRTNL(a.Prefix)
		p := ap.Masked()
		if p.Bits() == bits && addrpool.HostAddr(p) == ap.Addr() && isPrivate(p) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

func isPrivate(p netip.Prefix) bool {
	for _, pool := range addrpool.Pools() {
		if pool.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// hostPrefix is the host side's address on the subnet p, with p's length.
func hostPrefix(p netip.Prefix) rtnl.Prefix {
	return addrpool.ToRTNL(netip.PrefixFrom(addrpool.HostAddr(p), p.Bits()))
}

// serve starts the link's DHCP server.
func (w *Watcher) serve(name string, subnet netip.Prefix) (*managed, error) {
	s, err := dhcpserver.New(dhcpserver.Config{
		Prefix: subnet, ServerAddr: addrpool.HostAddr(subnet), DNS: w.cfg.DNS,
		LeaseFile: w.leaseFile(name), Logger: log.New(w.log.Writer(), w.log.Prefix()+name+": ", w.log.Flags()),
		AcceptLinkRelays: w.cfg.AcceptLinkRelays,
	})
	if err != nil {
		return nil, err
	}
	var conn net.PacketConn
	err = nsthread.Do(w.cfg.NetNS, func() (err error) {
		conn, err = dhcpserver.ListenLink(name)
		return err
	})
	if err != nil {
		return nil, err
	}
	m := &managed{server: s, conn: conn, done: make(chan error, 1),
		link: Link{Name: name, Subnet: subnet, HostAddr: addrpool.HostAddr(subnet)}}
	go func() { m.done <- s.Serve(conn) }()
	return m, nil
}

// stop ends the link's DHCP server, which saves its leases, and its
// router advertisements.
func (m *managed) stop() {
	m.conn.Close()
	<-m.done
	if m.ra != nil {
		m.ra.Close()
		<-m.raDone
	}
}

// address6 gives the link its IPv6 /64 of the host's ULA prefix, with the
// host side on ::1 and duplicate address detection off (the host is the
// only router on the link), and returns it; addrs are the namespace's.
// IPv6 is best effort: on failure the link stays IPv4-only and
// link-local.
func (w *Watcher) address6(h *rtnl.Conn, link rtnl.Link, addrs []rtnl.Addr) netip.Prefix {
	name := link.Name
	ula, err := w.ula()
	if err != nil {
		w.log.Printf("link %s: no IPv6 prefix: %v", name, err)
		return netip.Prefix{}
	}
	p := existing6(addrs, link.Index, ula)
	if !p.IsValid() {
		p = subnet6(ula, name, w.subnets6())
	}
	err = nsthread.Do(w.cfg.NetNS, func() error {
		return kernel.WriteSysctl("net/ipv6/conf/"+name+"/accept_dad", "0")
	})
	if err == nil {
		if err = h.ReplaceAddr(link.Index, addrpool.ToRTNL(netip.PrefixFrom(hostAddr6(p), 64)), unix.IFA_F_NODAD); err == nil {
			return p
		}
	}
	w.log.Printf("link %s stays without IPv6 prefix: %v", name, err)
	return netip.Prefix{}
}

// existing6 returns the /64 of the ULA the link already has ::1 of,
// of the namespace's addrs.
func existing6(addrs []rtnl.Addr, index int, ula netip.Prefix) netip.Prefix {
	for _, a := range addrs {
		if a.Index != index || a.Is4() {
			continue
		}
		ip := addrpool.FromRTNL(a.Prefix).Addr()
		p := netip.PrefixFrom(ip, 64).Masked()
		if a.Bits == 64 && ula.Contains(ip) && hostAddr6(p) == ip {
			return p
		}
	}
	return netip.Prefix{}
}

// subnets6 are the /64s of the managed links.
func (w *Watcher) subnets6() map[netip.Prefix]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[netip.Prefix]bool{}
	for _, m := range w.links {
		if m.link.Subnet6.IsValid() {
			out[m.link.Subnet6] = true
		}
	}
	return out
}

// advertise starts router advertisements of p on m's link, link, and
// reports whether they run.
func (w *Watcher) advertise(m *managed, link rtnl.Link, p netip.Prefix) bool {
	ifi := &net.Interface{Index: link.Index, Name: link.Name, MTU: link.MTU, HardwareAddr: link.HardwareAddr}
	var c *radv.Conn
	err := nsthread.Do(w.cfg.NetNS, func() (err error) {
		c, err = radv.Listen(ifi)
		return err
	})
	if err != nil {
		w.log.Printf("link %s: no IPv6 router advertisements: %v", m.link.Name, err)
		return false
	}
	m.ra, m.raDone = c, make(chan error, 1)
	m.link.Subnet6, m.link.HostAddr6 = p, hostAddr6(p)
	go func() { m.raDone <- c.Serve(radv.Config{Prefix: p}) }()
	return true
}

// teardown undoes setup for a link that went away. The link leaves
// Links last, so a caller that no longer sees it knows that its subnet, NAT
// rules and forwards are gone too.
func (w *Watcher) teardown(m *managed) {
	m.stop()
	if err := w.nat.RemoveLink(m.link.Name); err != nil {
		w.log.Printf("link %s: nat not removed: %v", m.link.Name, err)
	}
	for _, l := range m.server.Leases() {
		if err := w.nat.RemoveForwardsTo(l.Addr); err != nil {
			w.log.Printf("link %s: port forwards not removed: %v", m.link.Name, err)
		}
	}
	w.pool.Release(m.link.Name)
	w.mu.Lock()
	delete(w.links, m.link.Index)
	w.mu.Unlock()
	w.log.Printf("link %s released: subnet %v", m.link.Name, m.link.Subnet)
}

// stopAll stops every DHCP server when Run ends.
func (w *Watcher) stopAll() {
	w.mu.Lock()
	all := w.links
	w.links = map[int]*managed{}
	w.mu.Unlock()
	for _, m := range all {
		m.stop()
		w.pool.Release(m.link.Name)
	}
}
