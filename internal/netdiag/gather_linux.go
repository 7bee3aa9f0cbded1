package netdiag

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/nat"
	"github.com/berth-dev/berth/internal/netwatch"
	"github.com/berth-dev/berth/internal/nsthread"
	"github.com/berth-dev/berth/internal/rtnl"
)

// Options say where Gather looks.
type Options struct {
	// NetNS is the path of the namespace of the links ("" for the caller's).
	NetNS string
	// RunDir is where other network managers keep run-time state ("/run").
	RunDir string
}

// Gather collects the facts of link name from the kernel, from w (berth's
// own view) and from other managers' state under opt.RunDir.
func Gather(w *netwatch.Watcher, name string, opt Options) (Facts, error) {
	f := Facts{Link: name}
	var idx int
	err := nsthread.Do(opt.NetNS, func() error {
		h, err := rtnl.Open()
		if err != nil {
			return err
		}
		defer h.Close()
		l, err := h.LinkByName(name)
		if err != nil {
			return nil // a missing link is a finding, not an error
		}
		f.Exists, f.Up, idx = true, l.Flags&unix.IFF_UP != 0, l.Index
		f.IPv4Forwarding = sysctlOn("net/ipv4/ip_forward") && sysctlOn("net/ipv4/conf/"+name+"/forwarding")
		return nil
	})
	if err != nil || !f.Exists {
		return f, err
	}
	berthView(w, &f)
	if f.DroppingChains, f.Masqueraded, err = firewall(opt.NetNS, f.Masqueraded); err != nil {
		return f, fmt.Errorf("diagnose %s: %w", name, err)
	}
	f.Managers = managers(opt.RunDir, idx)
	return f, nil
}

// berthView fills in what the Watcher knows about the link.
func berthView(w *netwatch.Watcher, f *Facts) {
	now := time.Now()
	for _, l := range w.Links() {
		if l.Name != f.Link {
			continue
		}
		f.Managed = true
		for _, ls := range l.Leases {
			if ls.Expiry.After(now) && !ls.Declined() {
				f.ActiveLeases++
			}
		}
		f.Malformed, f.RateLimited = l.Stats.Malformed, l.Stats.RateLimited
	}
	f.Masqueraded = len(w.NAT().Links()[f.Link]) > 0
}

func sysctlOn(name string) bool {
	b, err := os.ReadFile("/proc/sys/" + name)
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// firewall lists forward-hook chains with a drop policy outside berth's
// table, and checks that berth's table exists if masquerading is wanted.
func firewall(netns string, wantMasq bool) (dropping []string, masq bool, err error) {
	var opts []nftables.ConnOption
	if netns != "" {
		fd, err := os.Open(netns)
		if err != nil {
			return nil, false, err
		}
		defer fd.Close()
		opts = append(opts, nftables.WithNetNSFd(int(fd.Fd())))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return nil, false, err
	}
	chains, err := conn.ListChains()
	if err != nil {
		return nil, false, err
	}
	haveTable := false
	for _, c := range chains {
		if c.Table.Name == nat.TableName && c.Table.Family == nftables.TableFamilyINet {
			haveTable = true
			continue
		}
		if c.Hooknum != nil && *c.Hooknum == *nftables.ChainHookForward && c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop {
			dropping = append(dropping, fmt.Sprintf("%s %s %s", familyName(c.Table.Family), c.Table.Name, c.Name))
		}
	}
	return dropping, wantMasq && haveTable, nil
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyBridge:
		return "bridge"
	}
	return strconv.Itoa(int(f))
}

// managers names other network managers whose run-time state claims the
// link with interface index idx.
func managers(runDir string, idx int) []string {
	if runDir == "" {
		return nil
	}
	var out []string
	b, err := os.ReadFile(filepath.Join(runDir, "systemd/netif/links", strconv.Itoa(idx)))
	if err == nil && !strings.Contains(string(b), "ADMIN_STATE=unmanaged") {
		out = append(out, "systemd-networkd")
	}
	if _, err := os.Stat(filepath.Join(runDir, "NetworkManager/devices", strconv.Itoa(idx))); err == nil {
		out = append(out, "NetworkManager")
	}
	return out
}
