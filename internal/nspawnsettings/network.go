package nspawnsettings

import (
	"strconv"
	"strings"
)

// PortForward is one Port= entry: [tcp:|udp:]HOST[:CONTAINER].
type PortForward struct {
	// Protocol is "tcp" or "udp".
	Protocol string
	// Host is the port on the host.
	Host uint16
	// Container is the port in the container (Host when not given).
	Container uint16
}

// String formats p in Port= syntax.
func (p PortForward) String() string {
	return p.Protocol + ":" + strconv.Itoa(int(p.Host)) + ":" + strconv.Itoa(int(p.Container))
}

// parsePort parses one Port= value.
func parsePort(v string) (PortForward, error) {
	p := PortForward{Protocol: "tcp"}
	if proto, rest, ok := strings.Cut(v, ":"); ok && (proto == "tcp" || proto == "udp") {
		p.Protocol, v = proto, rest
	}
	hs, cs, hasC := strings.Cut(v, ":")
	h, err := parsePortNumber(hs)
	if err != nil {
		return PortForward{}, err
	}
	p.Host, p.Container = h, h
	if hasC {
		if p.Container, err = parsePortNumber(cs); err != nil {
			return PortForward{}, err
		}
	}
	return p, nil
}

// parsePortNumber parses a port in 1-65535.
func parsePortNumber(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, invalid("invalid port %q", s)
	}
	return uint16(n), nil
}

// LinkPair is a host interface and, optionally, the name it gets in the
// container: VirtualEthernetExtra=, and Interface=, MACVLAN=, IPVLAN=
// entries of the form HOST[:CONTAINER].
type LinkPair struct {
	// Host is the interface name on the host.
	Host string
	// Container is the name in the container; empty means the default.
	Container string
}

// String formats l as HOST[:CONTAINER].
func (l LinkPair) String() string {
	if l.Container == "" {
		return l.Host
	}
	return l.Host + ":" + l.Container
}

// parseLinkPair parses HOST[:CONTAINER], both valid interface names.
func parseLinkPair(v string) (LinkPair, error) {
	h, c, hasC := strings.Cut(v, ":")
	if err := validIfname(h); err != nil {
		return LinkPair{}, err
	}
	if hasC {
		if err := validIfname(c); err != nil {
			return LinkPair{}, err
		}
	}
	return LinkPair{Host: h, Container: c}, nil
}

// parseLinkPairs parses a whitespace-separated list of HOST[:CONTAINER].
func parseLinkPairs(v string) ([]LinkPair, error) {
	words, err := splitWords(v)
	if err != nil {
		return nil, err
	}
	out := make([]LinkPair, 0, len(words))
	for _, w := range words {
		l, err := parseLinkPair(w)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// formatList joins the String forms of a list with spaces.
func formatList[T interface{ String() string }](l []T) string {
	s := make([]string, len(l))
	for i, x := range l {
		s[i] = x.String()
	}
	return strings.Join(s, " ")
}

// parseZone parses Zone=: a name that fits "vz-" + name in an interface name.
func parseZone(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if err := validIfname("vz-" + v); err != nil {
		return "", invalid("zone %q", v)
	}
	return v, nil
}

// parseIfname parses a single interface name (Bridge=); empty unsets.
func parseIfname(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	return v, validIfname(v)
}
