package nat

import (
	"net/netip"
	"sort"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// containerPrefixes are the interface name prefixes of container links;
// traffic leaving through them is not masqueraded.
var containerPrefixes = []string{"ve-", "vz-", "vb-"}

// chains are the table's base chains.
type chains struct {
	pre, out, post, guard *nftables.Chain
}

// tableChains returns t's chains, as buildTable creates them.
func tableChains(t *nftables.Table) chains {
	nat := func(name string, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return &nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeNAT, Hooknum: hook, Priority: prio}
	}
	return chains{
		pre:  nat("prerouting", nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest),
		out:  nat("output", nftables.ChainHookOutput, nftables.ChainPriorityNATDest),
		post: nat("postrouting", nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource),
		guard: &nftables.Chain{
			Name: "guard", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRaw,
		},
	}
}

// all returns the chains in a list.
func (c chains) all() []*nftables.Chain { return []*nftables.Chain{c.pre, c.out, c.post, c.guard} }

// buildTable adds t, its chains and their rules to conn's batch.
func buildTable(conn *nftables.Conn, t *nftables.Table, links map[string][]netip.Prefix, forwards []Forward) {
	conn.AddTable(t)
	c := tableChains(t)
	for _, ch := range c.all() {
		conn.AddChain(ch)
	}
	addForwardRules(conn, t, c, forwards)
	addLinkRules(conn, t, c, links)
}

// parts names the rules of the table that a change touches: those of the
// links (chains guard and postrouting) and those of the port forwards
// (chains prerouting and output).
type parts struct{ links, forwards bool }

// refillTable replaces the rules of the chains of t that hold the parts
// in which, in conn's batch: the chains, which exist, and their
// netfilter hooks stay.
func refillTable(conn *nftables.Conn, t *nftables.Table, which parts, links map[string][]netip.Prefix, forwards []Forward) {
	c := tableChains(t)
	if which.forwards {
		conn.FlushChain(c.pre)
		conn.FlushChain(c.out)
		addForwardRules(conn, t, c, forwards)
	}
	if which.links {
		conn.FlushChain(c.guard)
		conn.FlushChain(c.post)
		addLinkRules(conn, t, c, links)
	}
}

// addForwardRules adds the rules for forwards to the chains c of t.
func addForwardRules(conn *nftables.Conn, t *nftables.Table, c chains, forwards []Forward) {
	for _, f := range forwards {
		conn.AddRule(&nftables.Rule{Table: t, Chain: c.pre, Exprs: dnatRule(f)})
		conn.AddRule(&nftables.Rule{Table: t, Chain: c.out, Exprs: dnatRule(f)})
	}
}

// addLinkRules adds the rules for links to the chains c of t.
func addLinkRules(conn *nftables.Conn, t *nftables.Table, c chains, links map[string][]netip.Prefix) {
	names := make([]string, 0, len(links))
	for n := range links {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		conn.AddRule(&nftables.Rule{Table: t, Chain: c.guard, Exprs: loopbackGuardRule(n)})
		for _, p := range links[n] {
			conn.AddRule(&nftables.Rule{Table: t, Chain: c.post, Exprs: masqRule(p)})
			if p.Addr().Is4() {
				conn.AddRule(&nftables.Rule{Table: t, Chain: c.post, Exprs: loopbackMasqRule(p)})
			}
		}
	}
}

// dnatRule: meta nfproto F meta l4proto P th dport HOSTPORT
// fib daddr type local dnat to ADDR:PORT.
func dnatRule(f Forward) []expr.Any {
	proto := byte(unix.IPPROTO_TCP)
	if f.Proto == "udp" {
		proto = unix.IPPROTO_UDP
	}
	family := uint32(unix.NFPROTO_IPV4)
	if f.Addr.Is6() {
		family = unix.NFPROTO_IPV6
	}
	e := matchFamily(family)
	e = append(e,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(f.HostPort)},
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Immediate{Register: 1, Data: f.Addr.AsSlice()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(f.Port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: family, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
	return e
}

// masqRule: ip saddr P ip daddr != P oifname != container links masquerade.
func masqRule(p netip.Prefix) []expr.Any {
	e := matchFamily(familyOf(p))
	e = append(e, matchPrefix(p, true, false)...)
	e = append(e, matchPrefix(p, false, true)...)
	for _, name := range containerPrefixes {
		e = append(e,
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte(name)},
		)
	}
	return append(e, &expr.Masq{})
}

// loopbackMasqRule: ip saddr 127.0.0.0/8 ip daddr P masquerade, for
// connections from the host's loopback DNATed into a container.
func loopbackMasqRule(p netip.Prefix) []expr.Any {
	e := matchFamily(unix.NFPROTO_IPV4)
	e = append(e, matchPrefix(netip.MustParsePrefix("127.0.0.0/8"), true, false)...)
	e = append(e, matchPrefix(p, false, false)...)
	return append(e, &expr.Masq{})
}

// loopbackGuardRule: iifname LINK ip daddr 127.0.0.0/8 drop. The link has
// route_localnet set (for DNATed loopback connections), which would
// otherwise let the container reach the host's loopback services
// (CVE-2020-8558 in Kubernetes).
func loopbackGuardRule(link string) []expr.Any {
	e := matchFamily(unix.NFPROTO_IPV4)
	e = append(e,
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(link)},
	)
	e = append(e, matchPrefix(netip.MustParsePrefix("127.0.0.0/8"), false, false)...)
	return append(e, &expr.Verdict{Kind: expr.VerdictDrop})
}

// ifname is a link name as the kernel compares it: NUL-padded to IFNAMSIZ.
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

func familyOf(p netip.Prefix) uint32 {
	if p.Addr().Is4() {
		return unix.NFPROTO_IPV4
	}
	return unix.NFPROTO_IPV6
}

func matchFamily(family uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(family)}},
	}
}

// matchPrefix matches the source (src) or destination address against p,
// negated if neg.
func matchPrefix(p netip.Prefix, src, neg bool) []expr.Any {
	p = p.Masked()
	size := uint32(4)
	off := uint32(16)
	if src {
		off = 12
	}
	if p.Addr().Is6() {
		size, off = 16, 24
		if src {
			off = 8
		}
	}
	op := expr.CmpOpEq
	if neg {
		op = expr.CmpOpNeq
	}
	mask := netip.PrefixFrom(p.Addr(), p.Bits())
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: size},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: size, Mask: maskBytes(mask), Xor: make([]byte, size)},
		&expr.Cmp{Op: op, Register: 1, Data: p.Addr().AsSlice()},
	}
}

func maskBytes(p netip.Prefix) []byte {
	n := p.Addr().BitLen() / 8
	b := make([]byte, n)
	for i := 0; i < p.Bits(); i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return b
}
