package register

import (
	"fmt"

	"github.com/godbus/dbus/v5"
)

// systemd's bus name and the scope signal it sends a scope's Controller
// when the scope is stopped.
const (
	systemdName = "org.freedesktop.systemd1"
	scopeIface  = "org.freedesktop.systemd1.Scope"
	requestStop = "RequestStop"
)

// watchRequestStop subscribes to RequestStop, as systemd-nspawn does, and
// calls c.stop for each one that comes from the owner of systemd's bus
// name (anybody may send a signal to our connection; only systemd is
// obeyed). It does nothing without OnRequestStop, or when already done.
func (c *Client) watchRequestStop() error {
	if c.stop == nil {
		return nil
	}
	err := c.conn.AddMatchSignal(dbus.WithMatchSender(systemdName),
		dbus.WithMatchInterface(scopeIface), dbus.WithMatchMember(requestStop))
	if err != nil {
		return fmt.Errorf("register: watch RequestStop: %w", err)
	}
	ch := make(chan *dbus.Signal, 4)
	c.conn.Signal(ch)
	go c.serveRequestStop(ch, c.stop)
	c.stop = nil
	return nil
}

// serveRequestStop runs until the connection is closed.
func (c *Client) serveRequestStop(ch <-chan *dbus.Signal, stop func()) {
	for sig := range ch {
		if sig.Name != scopeIface+"."+requestStop {
			continue
		}
		var owner string
		err := c.conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, systemdName).Store(&owner)
		if err == nil && owner == sig.Sender {
			stop()
		}
	}
}
