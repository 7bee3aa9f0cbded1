package nat

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"github.com/google/nftables"

	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/nsthread"
)

// TableName is the name of berth's nftables table (family inet).
const TableName = "berth"

// ErrInvalid is returned for a bad link or port forward.
var ErrInvalid = errors.New("invalid nat configuration")

// Forward is one port forward: connections to HostPort on any of the
// host's addresses go to Addr:Port.
type Forward struct {
	// Proto is "tcp" or "udp".
	Proto string
	// HostPort is the port on the host.
	HostPort uint16
	// Addr is the container's address (IPv4 or IPv6).
	Addr netip.Addr
	// Port is the port in the container.
	Port uint16
}

// Validate checks f.
func (f Forward) Validate() error {
	switch {
	case f.Proto != "tcp" && f.Proto != "udp":
		return fmt.Errorf("%w: protocol %q", ErrInvalid, f.Proto)
	case f.HostPort == 0 || f.Port == 0:
		return fmt.Errorf("%w: port 0", ErrInvalid)
	case !f.Addr.IsValid() || f.Addr.IsUnspecified() || f.Addr.IsLoopback() || f.Addr.IsMulticast():
		return fmt.Errorf("%w: address %v", ErrInvalid, f.Addr)
	}
	return nil
}

func (f Forward) key() string { return fmt.Sprintf("%s/%d/%v", f.Proto, f.HostPort, f.Addr.Is4()) }

// Manager owns berth's table in one network namespace. Its methods may be
// called concurrently.
type Manager struct {
	netns string

	mu sync.Mutex
	// links maps link names to their subnets; guarded by mu.
	links map[string][]netip.Prefix
	// forwards are the port forwards; guarded by mu.
	forwards []Forward
	// built: this Manager made or adopted the table, whose chains are in
	// place, so a change only replaces their rules; guarded by mu.
	built bool
	// stale are the parts of the table whose rules may differ from links
	// and forwards, which the next sync replaces; guarded by mu.
	stale parts
	// nft is the netlink connection the Manager keeps open between
	// changes, nil until the first one and after an error; guarded by mu.
	nft *nftables.Conn
}

// Option configures a Manager.
type Option func(*Manager)

// WithNetNS makes the Manager work in the network namespace at path
// instead of the caller's.
func WithNetNS(path string) Option { return func(m *Manager) { m.netns = path } }

// New returns a Manager with no links and no forwards; it changes nothing
// until the first call.
func New(opts ...Option) *Manager {
	m := &Manager{links: map[string][]netip.Prefix{}}
	for _, o := range opts {
		o(m)
	}
	return m
}

// AddLink masquerades subnets of link (replacing what link had) and enables
// forwarding for it.
func (m *Manager) AddLink(link string, subnets ...netip.Prefix) error {
	if link == "" || len(link) > 15 || filepath.Base(link) != link || link == "." || link == ".." {
		return fmt.Errorf("nat add link: %w: name %q", ErrInvalid, link)
	}
	v6 := slices.ContainsFunc(subnets, func(p netip.Prefix) bool { return p.Addr().Is6() && !p.Addr().Is4In6() })
	err := nsthread.Do(m.netns, func() error {
		if err := kernel.WriteSysctl("net/ipv4/ip_forward", "1"); err != nil {
			return err
		}
		if v6 {
			if err := enableIPv6Forwarding(); err != nil {
				return err
			}
		}
		return kernel.WriteSysctl("net/ipv4/conf/"+link+"/route_localnet", "1")
	})
	if err != nil {
		return fmt.Errorf("nat add link %s: %w", link, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.links[link] = slices.Clone(subnets)
	return m.syncLocked(parts{links: true})
}

// RemoveLink drops link's masquerading.
func (m *Manager) RemoveLink(link string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.links[link]; !ok {
		return nil
	}
	delete(m.links, link)
	return m.syncLocked(parts{links: true})
}

// AddForward adds f, replacing a forward of the same protocol, host port
// and address family.
func (m *Manager) AddForward(f Forward) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("nat add forward: %w", err)
	}
	if f.Addr.Is6() && !f.Addr.Is4In6() {
		if err := nsthread.Do(m.netns, enableIPv6Forwarding); err != nil {
			return fmt.Errorf("nat add forward: %w", err)
		}
	}
	f.Addr = f.Addr.Unmap()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forwards = slices.DeleteFunc(m.forwards, func(g Forward) bool { return g.key() == f.key() })
	m.forwards = append(m.forwards, f)
	return m.syncLocked(parts{forwards: true})
}

// RemoveForward removes the forward of f's protocol, host port and family.
func (m *Manager) RemoveForward(f Forward) error {
	f.Addr = f.Addr.Unmap()
	return m.removeForwards(func(g Forward) bool { return g.key() == f.key() })
}

// RemoveForwardsTo removes every forward to addr (a container going away).
func (m *Manager) RemoveForwardsTo(addr netip.Addr) error {
	return m.removeForwards(func(g Forward) bool { return g.Addr == addr.Unmap() })
}

// removeForwards removes the forwards del matches and rewrites the table
// if there were any: a link going away calls RemoveForwardsTo for each of
// its leases, which mostly have none.
func (m *Manager) removeForwards(del func(Forward) bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.forwards)
	m.forwards = slices.DeleteFunc(m.forwards, del)
	if len(m.forwards) == n {
		return nil
	}
	return m.syncLocked(parts{forwards: true})
}

// Forwards returns the port forwards, sorted.
func (m *Manager) Forwards() []Forward {
	m.mu.Lock()
	out := slices.Clone(m.forwards)
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// Links returns each link's masqueraded subnets.
func (m *Manager) Links() map[string][]netip.Prefix {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string][]netip.Prefix, len(m.links))
	for k, v := range m.links {
		out[k] = slices.Clone(v)
	}
	return out
}

// Close deletes berth's table and forgets all links and forwards.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.links = map[string][]netip.Prefix{}
	m.forwards = nil
	m.built = false
	err := m.flush(dropTable)
	m.closeConnLocked()
	return err
}

// Disconnect closes the Manager's netlink connection, which it keeps
// open between changes; the table stays as it is, and the next change
// opens a new connection. A caller done with the Manager for now calls
// it, so the socket does not keep a network namespace alive.
func (m *Manager) Disconnect() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closeConnLocked()
}

// syncLocked brings the table to the current state, in which the parts
// changed differ from the table's, in one transaction. The first one
// adopts the table a previous berthd left in place when its chains are
// berth's (see adoptable), and otherwise replaces whatever table of that
// name there was; later ones only replace the rules of the chains that
// hold a stale part: a link's change leaves the port forwards' chains
// alone, and the other way round. The table and its chains stay when the
// last link and forward go, and when berthd exits: deleting a table's
// last NAT chain unregisters its netfilter hooks (and connection
// tracking's), which interrupts the masquerading of machines that keep
// running, and registering them again for the next link costs more than
// the rest of a change together. If a refill fails (the table was
// deleted behind berth's back), the table is built anew.
func (m *Manager) syncLocked(changed parts) error {
	m.stale = parts{links: m.stale.links || changed.links, forwards: m.stale.forwards || changed.forwards}
	if !m.built {
		m.built = m.adoptable()
		m.stale = parts{links: true, forwards: true} // the rules of an adopted table are unknown
	}
	if m.built {
		err := m.flush(func(conn *nftables.Conn, t *nftables.Table) { refillTable(conn, t, m.stale, m.links, m.forwards) })
		if err == nil {
			m.stale = parts{}
			return nil
		}
		m.built = false
	}
	err := m.flush(func(conn *nftables.Conn, t *nftables.Table) {
		dropTable(conn, t)
		buildTable(conn, t, m.links, m.forwards)
	})
	m.built = err == nil
	if m.built {
		m.stale = parts{}
	}
	return err
}

// adoptable reports whether berth's table exists with exactly the chains
// buildTable makes (names, types, hooks and priorities), so that refilling
// their rules brings it to any state.
func (m *Manager) adoptable() bool {
	conn, err := m.connLocked()
	if err != nil {
		return false
	}
	listed, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		m.closeConnLocked()
		return false
	}
	want := tableChains(&nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}).all()
	found := 0
	for _, c := range listed {
		if c.Table.Name != TableName {
			continue
		}
		if !slices.ContainsFunc(want, func(w *nftables.Chain) bool { return sameChain(c, w) }) {
			return false
		}
		found++
	}
	return found == len(want)
}

// sameChain reports whether chain c, as listed, is w.
func sameChain(c, w *nftables.Chain) bool {
	return c.Name == w.Name && c.Type == w.Type &&
		c.Hooknum != nil && *c.Hooknum == *w.Hooknum &&
		c.Priority != nil && *c.Priority == *w.Priority
}

// dropTable deletes t in conn's batch, whether it exists or not (adding
// an existing table is no error, deleting a missing one is).
func dropTable(conn *nftables.Conn, t *nftables.Table) {
	conn.AddTable(t)
	conn.DelTable(t)
}

// flush sends, as one transaction, the batch that batch fills for
// berth's table; the mutex must be held.
func (m *Manager) flush(batch func(*nftables.Conn, *nftables.Table)) error {
	conn, err := m.connLocked()
	if err != nil {
		return fmt.Errorf("nat sync: %w", err)
	}
	batch(conn, &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName})
	if err := conn.Flush(); err != nil {
		m.closeConnLocked()
		return fmt.Errorf("nat sync: %w", err)
	}
	return nil
}

// connLocked returns the Manager's nftables connection, opening it in
// the Manager's namespace if there is none. The connection stays open
// between changes: opening one costs a socket, its setup and, in
// package netlink, seeding a random source, for each change.
func (m *Manager) connLocked() (*nftables.Conn, error) {
	if m.nft != nil {
		return m.nft, nil
	}
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if m.netns != "" {
		f, err := os.Open(m.netns)
		if err != nil {
			return nil, err
		}
		defer f.Close() // New makes the socket in the namespace
		opts = append(opts, nftables.WithNetNSFd(int(f.Fd())))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, err
	}
	m.nft = c
	return c, nil
}

// closeConnLocked closes the Manager's nftables connection, after an
// error (which may leave unread answers or a batch error behind in it)
// or when the Manager is closed; the next change opens a new one.
func (m *Manager) closeConnLocked() {
	if m.nft != nil {
		_ = m.nft.CloseLasting()
		m.nft = nil
	}
}

// ipv6Conf is the directory of the per-link IPv6 settings, under
// /proc/sys.
const ipv6Conf = "net/ipv6/conf"

// enableIPv6Forwarding turns IPv6 forwarding on in the calling thread's
// namespace. Forwarding makes the kernel ignore router advertisements on
// links with accept_ra=1, so those are moved to accept_ra=2 first and
// keep their autoconfigured addresses and routes.
//
// The links are listed with one read of the conf directory: globbing
// conf/*/accept_ra would list every link's whole conf directory, which
// costs about ten times as much CPU.
func enableIPv6Forwarding() error {
	links, err := os.ReadDir("/proc/sys/" + ipv6Conf)
	if err != nil {
		return err
	}
	for _, l := range links {
		link := l.Name()
		if link == "all" || link == "default" || link == "lo" {
			continue
		}
		c := ipv6Conf + "/" + link + "/accept_ra"
		if v, err := kernel.ReadSysctl(c); err == nil && v == "1" {
			if err := kernel.WriteSysctl(c, "2"); err != nil {
				return err
			}
		}
	}
	return kernel.WriteSysctl(ipv6Conf+"/all/forwarding", "1")
}
