package radv

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// allNodes and allRouters are the link-local multicast groups.
var (
	allNodes   = net.ParseIP("ff02::1")
	allRouters = net.ParseIP("ff02::2")
)

// minReplyGap bounds advertisements sent in answer to solicitations.
const minReplyGap = time.Second

// Conn is a raw ICMPv6 socket bound to one link.
type Conn struct {
	pc   *icmp.PacketConn
	p    *ipv6.PacketConn
	ifi  *net.Interface
	once sync.Once
	done chan struct{}
}

// Listen opens the socket for the link ifi (its name, index and
// hardware address are used) in the calling thread's network namespace:
// bound to the link, hop limit 255, member of all-routers, receiving only
// router solicitations. The caller knows the link: looking it up by name
// here would cost a dump of every link in the namespace.
func Listen(ifi *net.Interface) (*Conn, error) {
	pc, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, fmt.Errorf("radv listen on %s: %w", ifi.Name, err)
	}
	c := &Conn{pc: pc, p: pc.IPv6PacketConn(), ifi: ifi, done: make(chan struct{})}
	if err := c.setup(); err != nil {
		pc.Close()
		return nil, fmt.Errorf("radv listen on %s: %w", ifi.Name, err)
	}
	return c, nil
}

func (c *Conn) setup() error {
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeRouterSolicitation)
	raw, err := c.pc.IPv6PacketConn().PacketConn.(*net.IPConn).SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		serr = kernel.Retry("setsockopt SO_BINDTODEVICE", func() error {
			return unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, c.ifi.Name)
		})
	})
	return errors.Join(err, serr,
		c.p.SetICMPFilter(&f),
		c.p.SetMulticastInterface(c.ifi),
		c.p.SetMulticastHopLimit(255),
		c.p.SetHopLimit(255),
		c.p.SetMulticastLoopback(false),
		c.p.SetControlMessage(ipv6.FlagHopLimit, true),
		c.p.JoinGroup(c.ifi, &net.IPAddr{IP: allRouters}))
}

// Close stops Serve and closes the socket.
func (c *Conn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.pc.Close()
}

// Serve advertises cfg until c is closed.
func (c *Conn) Serve(cfg Config) error {
	cfg = cfg.withDefaults()
	msg, err := Message(cfg, c.ifi.HardwareAddr)
	if err != nil {
		return err
	}
	solicited := make(chan struct{}, 1)
	go c.readSolicits(solicited)
	send := func() {
		// No zone: the socket is bound to the link, which is also its
		// multicast interface. A zone name would make package ipv6 look
		// the name up in its interface cache, which dumps every link for
		// a name it lacks and may hold a stale index for a link of the
		// same name that was replaced.
		dst := &net.IPAddr{IP: allNodes}
		_, _ = c.p.WriteTo(msg, nil, dst) // a lost advertisement is repeated later
	}
	for i := 0; ; i++ {
		send()
		wait := cfg.Interval
		if i < 2 {
			wait = min(wait, time.Second) // three quick ones at start
		}
		select {
		case <-c.done:
			return nil
		case <-solicited:
			time.Sleep(min(minReplyGap, wait)) // coalesces a burst of solicitations
		case <-time.After(wait):
		}
	}
}

// readSolicits signals each valid router solicitation.
func (c *Conn) readSolicits(solicited chan<- struct{}) {
	b := make([]byte, 1500)
	for {
		n, cm, _, err := c.p.ReadFrom(b)
		if err != nil {
			return
		}
		if cm == nil || cm.HopLimit != 255 || !IsSolicit(b[:n]) {
			continue
		}
		select {
		case solicited <- struct{}{}:
		default:
		}
	}
}
