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

// watchRequestStop subscribes to RequestStop and hands each one sent by
// the owner of systemd's name to c.stop.
func (c *Client) watchRequestStop() error {
	if c.stop == nil {
		return nil
	}
	rule := "type='signal',sender='" + systemdName + "',interface='" + scopeIface + "',member='" + requestStop + "'"
	if _, err := c.conn.call(busCall("AddMatch", "s"), stringBody(rule)); err != nil {
		return fmt.Errorf("register: watch RequestStop: %w", err)
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
	go c.serveRequestStop(ch, c.stop)
	c.stop = nil
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
