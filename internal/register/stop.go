package register

import (
	"fmt"

	"github.com/berth-dev/berth/internal/dbuswire"
)

// The signal systemd sends a scope's controller to stop the scope.
const (
	systemdName = "org.freedesktop.systemd1"
	scopeIface  = "org.freedesktop.systemd1.Scope"
	requestStop = "RequestStop"
)

// subscribeRequestStop sends the subscription to RequestStop at once,
// without waiting for the bus's answers (awaitRequestStop does), and hands
// each one sent by the owner of systemd's name to stop.
func (c *Client) subscribeRequestStop(stop func()) {
	rule := "type='signal',sender='" + systemdName + "',interface='" + scopeIface + "',member='" + requestStop + "'"
	c.match, c.matchErr = c.conn.send(busCall("AddMatch", "s"), stringBody(rule))
	if c.matchErr != nil {
		return
	}
	ch := make(chan string, 4)
	c.conn.onSignal(func(m *dbuswire.Message) {
		if m.Interface == scopeIface && m.Member == requestStop {
			select {
			case ch <- m.Sender:
			default: // a stop is already on its way
			}
		}
	})
	go c.serveRequestStop(ch, stop)
}

// awaitRequestStop waits for the bus's answer to the subscription, if one
// was sent, and returns why it failed.
func (c *Client) awaitRequestStop() error {
	if c.match == nil && c.matchErr == nil {
		return nil
	}
	err := c.matchErr
	if err == nil {
		_, err = c.conn.await(c.match)
	}
	c.match, c.matchErr = nil, nil
	if err != nil {
		return fmt.Errorf("register: watch RequestStop: %w", err)
	}
	return nil
}

// serveRequestStop calls stop for each RequestStop whose sender owns
// systemd's name (anybody may send a signal to the connection).
func (c *Client) serveRequestStop(senders <-chan string, stop func()) {
	for sender := range senders {
		reply, err := c.conn.call(busCall("GetNameOwner", "s"), stringBody(systemdName))
		if err != nil {
			continue
		}
		if owner, ok := firstString(reply); ok && owner == sender {
			stop()
		}
	}
}
