package netwatch

import (
	"errors"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/addrpool"
	"github.com/berth-dev/berth/internal/dhcpserver"
	"github.com/berth-dev/berth/internal/leases"
	"github.com/berth-dev/berth/internal/nat"
	"github.com/berth-dev/berth/internal/radv"
)

// ErrNoLink is returned for a link the Watcher does not manage.
var ErrNoLink = errors.New("no such managed link")

// Config configures a Watcher.
type Config struct {
	// NetNS is the path of the network namespace to manage; "" is the
	// caller's own.
	NetNS string
	// StateDir holds the lease file (NAME.leases) and remembered subnet
	// (NAME.subnet) of each link; it is created if missing.
	StateDir string
	// DNS are the DNS servers offered to containers (see ResolvConfDNS).
	DNS []netip.Addr
	// Logger receives log lines (discarded if nil).
	Logger *log.Logger
	// NAT is the nftables manager to use (a new one for NetNS if nil).
	NAT *nat.Manager
	// Pool hands out subnets (a new one if nil).
	Pool *addrpool.Allocator
	// AcceptLinkRelays makes the links' DHCP servers answer relayed
	// packets whose relay address lies in the link's subnet, as load
	// generators such as perfdhcp send (dhcpserver.Config.AcceptLinkRelays).
	// Off in normal use.
	AcceptLinkRelays bool
}

// Link describes a managed link.
type Link struct {
	// Name and Index identify the link in its namespace.
	Name  string
	Index int
	// Zone is true for a vz-* bridge, false for a ve-* veth.
	Zone bool
	// Subnet is the link's subnet; HostAddr the host side's address in it.
	Subnet   netip.Prefix
	HostAddr netip.Addr
	// Subnet6 is the link's IPv6 /64 (of the host's ULA prefix), advertised
	// for SLAAC, and HostAddr6 the host side's address in it; both are
	// invalid when the link has IPv6 link-local addresses only.
	Subnet6   netip.Prefix
	HostAddr6 netip.Addr
	// Leases are the DHCP leases on the link, expired ones included.
	Leases []leases.Lease
	// Stats are the link's DHCP server counters.
	Stats dhcpserver.Stats
}

// Watcher manages container links in one network namespace. Its methods
// may be called concurrently.
type Watcher struct {
	cfg  Config
	log  *log.Logger
	nat  *nat.Manager
	pool *addrpool.Allocator

	mu sync.Mutex
	// links are the managed links by index; guarded by mu.
	links map[int]*managed
	// ula48 is the host's ULA /48 once read or made; guarded by mu.
	ula48 netip.Prefix
}

// managed is one configured link.
type managed struct {
	link   Link
	server *dhcpserver.Server
	conn   net.PacketConn
	done   chan error // Serve's result
	ra     *radv.Conn // nil without IPv6
	raDone chan error // ra.Serve's result
}

// New returns a Watcher; Run starts it.
func New(cfg Config) (*Watcher, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("new netwatch: no state directory")
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, err
	}
	w := &Watcher{cfg: cfg, log: cfg.Logger, nat: cfg.NAT, pool: cfg.Pool, links: map[int]*managed{}}
	if w.log == nil {
		w.log = log.New(io.Discard, "", 0)
	}
	if w.nat == nil {
		w.nat = nat.New(nat.WithNetNS(cfg.NetNS))
	}
	if w.pool == nil {
		w.pool = addrpool.New()
	}
	return w, nil
}

// Manageable reports whether a link of this name and kind ("veth",
// "bridge") is one berth configures, and whether it is a zone.
func Manageable(name, kind string) (ok, zone bool) {
	switch {
	case strings.HasPrefix(name, "ve-") && len(name) > 3 && kind == "veth":
		return true, false
	case strings.HasPrefix(name, "vz-") && len(name) > 3 && kind == "bridge":
		return true, true
	}
	return false, false
}

// manageableName reports whether name is one of a link Manageable may
// accept, whatever its kind.
func manageableName(name string) bool {
	return len(name) > 3 && (strings.HasPrefix(name, "ve-") || strings.HasPrefix(name, "vz-"))
}

// NAT returns the nftables manager, for port forwards.
func (w *Watcher) NAT() *nat.Manager { return w.nat }

// Links returns every managed link, by name.
func (w *Watcher) Links() []Link {
	w.mu.Lock()
	out := make([]Link, 0, len(w.links))
	for _, m := range w.links {
		out = append(out, m.snapshot())
	}
	w.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LinkByIndex returns the managed link with this interface index.
func (w *Watcher) LinkByIndex(index int) (Link, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m, ok := w.links[index]
	if !ok {
		return Link{}, ErrNoLink
	}
	return m.snapshot(), nil
}

// Addresses returns the addresses leased (and not expired at now) on the
// link with this interface index: a machine's addresses, given the
// host-side index from its registration.
func (w *Watcher) Addresses(index int, now time.Time) []netip.Addr {
	l, err := w.LinkByIndex(index)
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, ls := range l.Leases {
		if ls.Expiry.After(now) && !ls.Declined() {
			out = append(out, ls.Addr)
		}
	}
	return out
}

func (m *managed) snapshot() Link {
	l := m.link
	l.Leases = m.server.Leases()
	l.Stats = m.server.Stats()
	return l
}

// leaseFile and subnetFile are the link's files in the state directory.
func (w *Watcher) leaseFile(name string) string {
	return filepath.Join(w.cfg.StateDir, name+".leases")
}

func (w *Watcher) subnetFile(name string) string {
	return filepath.Join(w.cfg.StateDir, name+".subnet")
}

// rememberedSubnet returns the subnet the link had last time, if any.
func (w *Watcher) rememberedSubnet(name string) netip.Prefix {
	b, err := os.ReadFile(w.subnetFile(name))
	if err != nil {
		return netip.Prefix{}
	}
	p, err := netip.ParsePrefix(strings.TrimSpace(string(b)))
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// rememberSubnet records p as the link's subnet. Callers skip it when the
// file already holds p: rewriting a file truncates it, and ext4 follows
// that with a write-out at close (auto_da_alloc).
func (w *Watcher) rememberSubnet(name string, p netip.Prefix) {
	if err := os.WriteFile(w.subnetFile(name), []byte(p.String()+"\n"), 0o600); err != nil {
		w.log.Printf("link %s: subnet not remembered: %v", name, err)
	}
}
