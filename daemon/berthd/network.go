package main

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/internal/machine"
	"github.com/berth-dev/berth/internal/machinenet"
	"github.com/berth-dev/berth/internal/netwatch"
	"github.com/berth-dev/berth/internal/paths"
)

// network is berthd's running container networking.
type network struct {
	svc    *machinenet.Service
	cancel context.CancelFunc
	done   chan struct{} // closed when the watcher has stopped
}

// acceptRelaysEnv, set to yes, makes the links' DHCP servers answer
// packets relayed from inside a link's subnet: what DHCP load generators
// such as perfdhcp send. Only for benchmarks; off otherwise.
const acceptRelaysEnv = "BERTH_DHCP_ACCEPT_RELAYS"

// startNetwork configures ve-*/vz-* links in berthd's own network
// namespace and applies port forwards to reg's machines, until stop.
func startNetwork(logger *log.Logger, p paths.Paths, reg *machine.Registry) (*network, error) {
	nlog := log.New(logger.Writer(), logger.Prefix()+"network: ", 0)
	relays := false
	if v, ok := os.LookupEnv(acceptRelaysEnv); ok {
		var err error
		if relays, err = yesNo(acceptRelaysEnv, v); err != nil {
			return nil, err
		}
		nlog.Printf("%s=%s: DHCP answers relays inside the links' subnets", acceptRelaysEnv, v)
	}
	w, err := netwatch.New(netwatch.Config{
		StateDir:         filepath.Join(p.State, "network"),
		DNS:              netwatch.ResolvConfDNS(filepath.Join(p.Root, "etc/resolv.conf"), filepath.Join(p.Root, "run/systemd/resolve/resolv.conf")),
		Logger:           nlog,
		AcceptLinkRelays: relays,
	})
	if err != nil {
		return nil, err
	}
	svc, err := machinenet.New(machinenet.Config{
		Watcher:    w,
		StateFile:  filepath.Join(p.State, "network", "port-forwards.json"),
		PortsDir:   filepath.Join(p.Run, "ports"),
		RunDir:     filepath.Join(p.Root, "run"),
		Interfaces: interfacesOf(reg),
		Inside:     insideOf(reg),
		Log:        nlog,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &network{svc: svc, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(n.done)
		if err := w.Run(ctx); err != nil {
			nlog.Printf("stopped: %v", err)
		}
	}()
	go svc.Run(ctx)
	return n, nil
}

// stop stops the DHCP servers, saving their leases; addresses and NAT
// rules stay, so containers keep working while berthd restarts.
func (n *network) stop() {
	n.cancel()
	<-n.done
}

// yesNo parses a yes/no flag value.
func yesNo(flag, v string) (bool, error) {
	switch v {
	case "yes", "true", "1":
		return true, nil
	case "no", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s=%q: want yes or no", flag, v)
}

func interfacesOf(reg *machine.Registry) func(string) ([]int32, error) {
	return func(name string) ([]int32, error) {
		m, err := reg.Get(name)
		if err != nil {
			return nil, fmt.Errorf("interfaces of %s: %w", name, err)
		}
		return m.NetworkInterfaces, nil
	}
}

// insideOf reads a machine's addresses inside its network namespace.
func insideOf(reg *machine.Registry) func(string) []netip.Addr {
	return func(name string) []netip.Addr {
		as, err := reg.Addresses(name)
		if err != nil {
			return nil
		}
		out := make([]netip.Addr, 0, len(as))
		for _, a := range as {
			if addr, ok := netip.AddrFromSlice(a.IP); ok {
				out = append(out, addr.Unmap())
			}
		}
		return out
	}
}
