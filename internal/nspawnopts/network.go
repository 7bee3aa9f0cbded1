package nspawnopts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/capset"
	"github.com/berth-dev/berth/internal/nspawnsettings"
)

// Network is the container's network configuration beyond
// --private-network.
type Network struct {
	// Veth creates a veth pair ve-NAME (vb-NAME with Bridge or Zone) on
	// the host and host0 in the container (-n, --network-veth).
	Veth bool `json:"veth,omitempty"`
	// VethExtra are extra veth pairs (--network-veth-extra).
	VethExtra []VethPair `json:"veth_extra,omitempty"`
	// Bridge is the host bridge the veth's host side joins.
	Bridge string `json:"bridge,omitempty"`
	// Zone is the zone name; the bridge is "vz-" + Zone.
	Zone string `json:"zone,omitempty"`
	// Interfaces are host links moved into the container.
	Interfaces []string `json:"interfaces,omitempty"`
	// NamespacePath is a network namespace file the container joins.
	NamespacePath string `json:"namespace_path,omitempty"`
	// Ports are the --port forwards.
	Ports []Port `json:"ports,omitempty"`
}

// VethPair is one --network-veth-extra=HOST[:CONTAINER] pair.
type VethPair struct {
	Host      string `json:"host"`
	Container string `json:"container"`
}

// Port is one -p/--port forward.
type Port struct {
	// Protocol is "tcp" or "udp".
	Protocol string `json:"protocol"`
	// Host and Container are the ports on either side (never 0).
	Host      uint16 `json:"host"`
	Container uint16 `json:"container"`
}

// String formats p as PROTO:HOST:CONTAINER.
func (p Port) String() string {
	return fmt.Sprintf("%s:%d:%d", p.Protocol, p.Host, p.Container)
}

// netRaw holds the network flag values before validation.
type netRaw struct {
	veth                  bool
	bridge, zone, nsPath  string
	vethExtra, interfaces []string
	ports                 []string
}

// network validates the network options as nspawn does: each one implies
// --private-network, except --network-namespace-path which excludes them.
func (r *netRaw) network(c *Config) error {
	n := Network{Veth: r.veth, Bridge: r.bridge, Interfaces: r.interfaces}
	if r.bridge != "" && r.zone != "" {
		return errors.New("--network-bridge= and --network-zone= may not be combined")
	}
	if err := r.names(&n); err != nil {
		return err
	}
	if n.Bridge != "" || n.Zone != "" {
		n.Veth = true
	}
	if n.Veth || len(n.VethExtra) > 0 || len(n.Interfaces) > 0 {
		c.PrivateNetwork = true
	}
	if r.nsPath != "" {
		if n.Veth || len(n.VethExtra) > 0 || len(n.Interfaces) > 0 {
			return errors.New("--network-namespace-path= cannot be combined with other network options")
		}
		if !strings.HasPrefix(r.nsPath, "/") {
			return fmt.Errorf("--network-namespace-path= needs an absolute path, got %q", r.nsPath)
		}
		n.NamespacePath = r.nsPath
	}
	for _, s := range r.ports {
		p, err := ParsePort(s)
		if err != nil {
			return err
		}
		for _, q := range n.Ports {
			if q.Protocol == p.Protocol && q.Host == p.Host {
				return fmt.Errorf("--port=%s: duplicate host port", s)
			}
		}
		n.Ports = append(n.Ports, p)
	}
	if len(n.Ports) > 0 && !c.PrivateNetwork {
		return errors.New("cannot use --port= without private networking")
	}
	c.Network = n
	return nil
}

// names checks the interface and zone names.
func (r *netRaw) names(n *Network) error {
	if r.bridge != "" && !validAltIfname(r.bridge) {
		return fmt.Errorf("--network-bridge=: invalid interface name %q", r.bridge)
	}
	for _, i := range r.interfaces {
		if !validAltIfname(i) {
			return fmt.Errorf("--network-interface=: invalid interface name %q", i)
		}
	}
	if r.zone != "" {
		if !ValidIfname("vz-" + r.zone) {
			return fmt.Errorf("--network-zone=: invalid zone name %q (at most 12 characters)", r.zone)
		}
		n.Zone = r.zone
	}
	for _, s := range r.vethExtra {
		host, cont, ok := strings.Cut(s, ":")
		if !ok {
			cont = host
		}
		if !ValidIfname(host) || !ValidIfname(cont) {
			return fmt.Errorf("--network-veth-extra=: invalid interface pair %q", s)
		}
		n.VethExtra = append(n.VethExtra, VethPair{Host: host, Container: cont})
	}
	return nil
}

// ValidIfname follows systemd's ifname_valid: 1-15 printable ASCII
// characters, none of them '/', ':', '%' or white space, not "." or "..",
// and not all digits.
func ValidIfname(s string) bool { return validIfname(s, 15) }

// validAltIfname also allows an alternative name (up to 127 characters).
func validAltIfname(s string) bool { return validIfname(s, 127) }

func validIfname(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen || s == "." || s == ".." {
		return false
	}
	digits := true
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch <= ' ' || ch >= 0x7f || ch == '/' || ch == ':' || ch == '%' {
			return false
		}
		digits = digits && ch >= '0' && ch <= '9'
	}
	return !digits
}

// ParsePort parses a --port value, [tcp:|udp:]HOST[:CONTAINER], as
// nspawn's expose_port_parse: TCP by default, the container port defaults
// to the host port, ports 1-65535.
func ParsePort(s string) (Port, error) {
	p := Port{Protocol: "tcp"}
	rest := s
	if v, ok := strings.CutPrefix(s, "tcp:"); ok {
		rest = v
	} else if v, ok := strings.CutPrefix(s, "udp:"); ok {
		p.Protocol, rest = "udp", v
	}
	host, cont, hasCont := strings.Cut(rest, ":")
	var err error
	if p.Host, err = parseIPPort(host); err != nil {
		return Port{}, fmt.Errorf("--port=%s: invalid host port", s)
	}
	p.Container = p.Host
	if hasCont {
		if p.Container, err = parseIPPort(cont); err != nil {
			return Port{}, fmt.Errorf("--port=%s: invalid container port", s)
		}
	}
	return p, nil
}

// parseIPPort parses a decimal port number 1-65535.
func parseIPPort(s string) (uint16, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, strconv.ErrSyntax
	}
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil || v == 0 {
		return 0, strconv.ErrRange
	}
	return uint16(v), nil
}

// applyNetwork applies the [Network] keys a .nspawn file won over the
// command line, validated as the options are.
func applyNetwork(c *Config, s *nspawnsettings.Settings) error {
	if fromFile(s.MACVLAN) || fromFile(s.IPVLAN) {
		return errors.New("MACVLAN= and IPVLAN= are not supported")
	}
	if !fromFile(s.VirtualEthernet) && !fromFile(s.VirtualEthernetExtra) && !fromFile(s.Interface) &&
		!fromFile(s.Bridge) && !fromFile(s.Zone) && !fromFile(s.Port) {
		return nil
	}
	r := netRawOf(c.Network)
	if fromFile(s.VirtualEthernet) {
		r.veth = s.VirtualEthernet.Value
	}
	if fromFile(s.Bridge) {
		r.bridge = s.Bridge.Value
	}
	if fromFile(s.Zone) {
		r.zone = s.Zone.Value
	}
	if fromFile(s.VirtualEthernetExtra) {
		r.vethExtra = nil
		for _, p := range s.VirtualEthernetExtra.Value {
			r.vethExtra = append(r.vethExtra, p.String())
		}
	}
	if fromFile(s.Interface) {
		r.interfaces = nil
		for _, p := range s.Interface.Value {
			r.interfaces = append(r.interfaces, p.Host)
		}
	}
	if fromFile(s.Port) {
		r.ports = nil
		for _, p := range s.Port.Value {
			r.ports = append(r.ports, Port{p.Protocol, p.Host, p.Container}.String())
		}
	}
	had := c.PrivateNetwork
	if err := r.network(c); err != nil {
		return err
	}
	if c.PrivateNetwork && !had {
		c.Caps |= capset.NetAdmin
	}
	return nil
}

// netRawOf turns a validated Network back into flag values.
func netRawOf(n Network) netRaw {
	r := netRaw{veth: n.Veth, bridge: n.Bridge, zone: n.Zone, nsPath: n.NamespacePath, interfaces: n.Interfaces}
	for _, p := range n.VethExtra {
		r.vethExtra = append(r.vethExtra, p.Host+":"+p.Container)
	}
	for _, p := range n.Ports {
		r.ports = append(r.ports, p.String())
	}
	return r
}
