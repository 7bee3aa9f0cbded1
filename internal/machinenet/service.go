package machinenet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/containernet"
	"github.com/berth-dev/berth/internal/nat"
	"github.com/berth-dev/berth/internal/netwatch"
)

// Config configures a Service.
type Config struct {
	// Watcher manages the container links in berthd's namespace.
	Watcher *netwatch.Watcher
	// StateFile persists the forwards added with Add.
	StateFile string
	// PortsDir holds machines' run-time forward files ("" for none).
	PortsDir string
	// RunDir is where other network managers keep run-time state, for
	// Diagnose ("/run").
	RunDir string
	// Interfaces returns the host-side interface indices a registered
	// machine was registered with; an error for an unknown machine.
	Interfaces func(machine string) ([]int32, error)
	// Inside returns the addresses configured inside a registered machine
	// (its IPv6 address by SLAAC is no lease); nil for IPv4 forwards only.
	Inside func(machine string) []netip.Addr
	// Log receives one line per change of an applied forward (nil
	// discards).
	Log *log.Logger
	// Interval is how often forwards are re-resolved (1s if 0).
	Interval time.Duration
}

// Applied is a forward with the addresses it currently goes to.
type Applied struct {
	Forward
	// Addr is the machine's leased IPv4 address the forward points at;
	// invalid if it has none.
	Addr netip.Addr
	// Addr6 is the machine's IPv6 address in its link's subnet the
	// forward points at; invalid if it has none.
	Addr6 netip.Addr
	// Persistent: added over the bus, not from the machine's ports file.
	Persistent bool
}

// Service applies port forwards to machines and answers questions about
// machines' links. Its methods may be called concurrently.
type Service struct {
	cfg Config

	mu sync.Mutex
	// saved are the persisted forwards; guarded by mu.
	saved []Forward
	// applied is what was last written to nat; guarded by mu.
	applied []Applied
}

// New returns a Service, loading the persisted forwards: a missing file
// is none, a corrupt one is logged and moved aside to FILE.bad.
func New(cfg Config) (*Service, error) {
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = log.New(discard{}, "", 0)
	}
	s := &Service{cfg: cfg}
	data, err := os.ReadFile(cfg.StateFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("load port forwards: %w", err)
	default:
		if err := json.Unmarshal(data, &s.saved); err != nil {
			s.saved = nil
			cfg.Log.Printf("port forwards %s are corrupt, moved aside: %v", cfg.StateFile, err)
			if err := os.Rename(cfg.StateFile, cfg.StateFile+".bad"); err != nil {
				return nil, fmt.Errorf("load port forwards: %w", err)
			}
		}
	}
	return s, nil
}

// Run re-resolves and applies the forwards until ctx is done. The rules
// stay in place when it returns, so forwards keep working across a
// daemon restart.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		s.Sync()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Addresses returns the unexpired leased addresses on the machine's
// host-side veths. A zone bridge's leases belong to all its members, so
// zones count none.
func (s *Service) Addresses(ifindices []int32) []netip.Addr {
	var out []netip.Addr
	now := time.Now()
	for _, i := range ifindices {
		if l, err := s.cfg.Watcher.LinkByIndex(int(i)); err == nil && !l.Zone {
			out = append(out, s.cfg.Watcher.Addresses(int(i), now)...)
		}
	}
	return out
}

// Links returns the managed links.
func (s *Service) Links() []netwatch.Link { return s.cfg.Watcher.Links() }

// Forwards returns every forward, persisted and run-time, with the
// address it goes to now, sorted by protocol and host port.
func (s *Service) Forwards() []Applied {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.applied)
}

// Add persists f and applies it. The same forward again is no error; a
// host port another persisted forward uses is fs.ErrExist.
func (s *Service) Add(f Forward) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("add port forward: %w", err)
	}
	s.mu.Lock()
	for _, g := range s.saved {
		if g == f {
			s.mu.Unlock()
			return nil
		}
		if g.sameHostPort(f) {
			s.mu.Unlock()
			return fmt.Errorf("add port forward: %s port %d goes to %s: %w", f.Proto, f.HostPort, g.Machine, fs.ErrExist)
		}
	}
	err := s.saveLocked(append(slices.Clone(s.saved), f))
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("add port forward: %w", err)
	}
	s.Sync()
	return nil
}

// Remove deletes the persisted forward of machine's proto and host port;
// fs.ErrNotExist if there is none.
func (s *Service) Remove(machine, proto string, hostPort uint16) error {
	s.mu.Lock()
	i := slices.IndexFunc(s.saved, func(g Forward) bool {
		return g.Machine == machine && g.Proto == proto && g.HostPort == hostPort
	})
	if i < 0 {
		s.mu.Unlock()
		return fmt.Errorf("remove port forward: %s %s port %d: %w", machine, proto, hostPort, fs.ErrNotExist)
	}
	err := s.saveLocked(slices.Delete(slices.Clone(s.saved), i, i+1))
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("remove port forward: %w", err)
	}
	s.Sync()
	return nil
}

// saveLocked writes list to the state file and makes them current.
func (s *Service) saveLocked(list []Forward) error {
	data, err := json.MarshalIndent(list, "", " ")
	if err != nil {
		return err
	}
	if err := writeAtomic(s.cfg.StateFile, append(data, '\n')); err != nil {
		return err
	}
	s.saved = list
	return nil
}

// Sync resolves every forward to its machine's current address and
// rewrites the changed ones in nat.
func (s *Service) Sync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := s.resolveLocked()
	if slices.Equal(want, s.applied) {
		return
	}
	m := s.cfg.Watcher.NAT()
	for _, a := range s.applied {
		if !slices.Contains(want, a) {
			for _, f := range a.natForwards() {
				if err := m.RemoveForward(f); err != nil {
					s.cfg.Log.Printf("port forward %s: %v", a, err)
				}
			}
		}
	}
	for _, a := range want {
		if slices.Contains(s.applied, a) {
			continue
		}
		for _, f := range a.natForwards() {
			if err := m.AddForward(f); err != nil {
				s.cfg.Log.Printf("port forward %s: %v", a, err)
			}
		}
		s.cfg.Log.Printf("port forward %s", a)
	}
	s.applied = want
}

// resolveLocked lists every forward with its target address now; of two
// forwards on one host port the persisted one wins.
func (s *Service) resolveLocked() []Applied {
	var out []Applied
	taken := func(f Forward) bool {
		return slices.ContainsFunc(out, func(a Applied) bool { return a.sameHostPort(f) })
	}
	for _, f := range s.saved {
		a := s.target(f)
		a.Persistent = true
		out = append(out, a)
	}
	for _, f := range s.runtimeForwards() {
		if !taken(f) {
			out = append(out, s.target(f))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Proto != out[j].Proto {
			return out[i].Proto < out[j].Proto
		}
		return out[i].HostPort < out[j].HostPort
	})
	return out
}

// target resolves f to its machine's addresses: its first IPv4 lease on
// a veth, else (a zone member) the first address inside it in a zone's
// subnet; and the first address inside it in one of its links' IPv6
// subnets.
func (s *Service) target(f Forward) Applied {
	a := Applied{Forward: f}
	ifs, err := s.cfg.Interfaces(f.Machine)
	if err != nil {
		return a
	}
	for _, addr := range s.Addresses(ifs) {
		if addr.Is4() {
			a.Addr = addr
			break
		}
	}
	if s.cfg.Inside == nil {
		return a
	}
	var subnets []netip.Prefix
	for _, i := range ifs {
		if l, err := s.cfg.Watcher.LinkByIndex(int(i)); err == nil {
			subnets = append(subnets, l.Subnet, l.Subnet6)
		}
	}
	for _, addr := range s.cfg.Inside(f.Machine) {
		in := slices.ContainsFunc(subnets, func(p netip.Prefix) bool { return p.IsValid() && p.Contains(addr) })
		switch {
		case !in:
		case addr.Is4() && !a.Addr.IsValid():
			a.Addr = addr
		case addr.Is6() && !a.Addr6.IsValid():
			a.Addr6 = addr
		}
	}
	return a
}

// runtimeForwards reads the ports files berth-nspawn writes for
// registered machines (see containernet); a bad file is logged and
// skipped.
func (s *Service) runtimeForwards() []Forward {
	if s.cfg.PortsDir == "" {
		return nil
	}
	ents, err := os.ReadDir(s.cfg.PortsDir)
	if err != nil {
		return nil
	}
	var out []Forward
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !e.Type().IsRegular() {
			continue
		}
		if _, err := s.cfg.Interfaces(name); err != nil {
			continue
		}
		pf, err := containernet.ReadPorts(filepath.Join(s.cfg.PortsDir, name))
		if err != nil || pf.Machine != name {
			s.cfg.Log.Printf("ports of %s skipped: %v", name, err)
			continue
		}
		for _, p := range pf.Ports {
			out = append(out, Forward{Machine: name, Proto: p.Protocol, HostPort: p.Host, ContainerPort: p.Container})
		}
	}
	return out
}

// natForwards are a's rules: one per address family it has an address of.
func (a Applied) natForwards() []nat.Forward {
	var out []nat.Forward
	for _, addr := range []netip.Addr{a.Addr, a.Addr6} {
		if addr.IsValid() {
			out = append(out, nat.Forward{Proto: a.Proto, HostPort: a.HostPort, Addr: addr, Port: a.ContainerPort})
		}
	}
	return out
}

// String describes a for the log.
func (a Applied) String() string {
	var tos []string
	for _, f := range a.natForwards() {
		tos = append(tos, netip.AddrPortFrom(f.Addr, f.Port).String())
	}
	to := strings.Join(tos, " ")
	if to == "" {
		to = "no address"
	}
	return fmt.Sprintf("%s %d -> %s (%s)", a.Proto, a.HostPort, a.Machine, to)
}

// writeAtomic replaces path with data through a synced temporary file.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ports-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
