package register

import (
	"errors"
	"fmt"
	"os"

	"github.com/berth-dev/berth/internal/dbuswire"
	"github.com/berth-dev/berth/internal/nspawnopts"
	"github.com/berth-dev/berth/internal/spawn"
)

// Bus names and paths of machine1.
const (
	BusName   = "org.freedesktop.machine1"
	Path      = "/org/freedesktop/machine1"
	Interface = "org.freedesktop.machine1.Manager"
)

// Modes of --register.
const (
	ModeYes  = "yes"
	ModeNo   = "no"
	ModeAuto = "auto"
)

// DefaultService is the service name registered; $SYSTEMD_NSPAWN_CONTAINER_SERVICE
// overrides it, as it does for systemd-nspawn.
const DefaultService = "berth-nspawn"

// Client registers machines over one bus connection.
type Client struct {
	conn    *conn
	service string
	// optional makes a missing machine manager a no-op (--register=auto).
	optional bool
	// devices are the DeviceAllow entries of bound device nodes.
	devices []deviceAllow
	// match is the reply channel of the RequestStop subscription that
	// OnRequestStop sent, or matchErr why it could not be sent.
	match    <-chan *dbuswire.Message
	matchErr error
}

// Dial connects to the system bus for mode: nil for "no"; for "auto" nil
// when there is no bus; for "yes" an error when there is none.
func Dial(mode string) (*Client, error) {
	if mode == ModeNo {
		return nil, nil
	}
	service := os.Getenv("SYSTEMD_NSPAWN_CONTAINER_SERVICE")
	if service == "" {
		service = DefaultService
	}
	c, err := DialAddress(dbuswire.SystemBusAddress(), service)
	if err != nil {
		if mode == ModeAuto {
			return nil, nil
		}
		return nil, fmt.Errorf("register: cannot connect to the system bus (use --register=no): %w", err)
	}
	if mode == ModeAuto {
		// Whether there is a usable bus decides whether the spawner
		// registers at all, so wait for the bus's answer here; with
		// "yes" it comes while the spawner works, and Register waits.
		if err := c.conn.wait(); err != nil {
			_ = c.Close()
			return nil, nil
		}
		c.optional = true
	}
	return c, nil
}

// DialAddress connects to the bus at address (a D-Bus address list of
// unix: transports) and registers as service.
func DialAddress(address, service string) (*Client, error) {
	c, err := dialBus(address)
	if err != nil {
		return nil, err
	}
	return &Client{conn: c, service: service}, nil
}

// UniqueName is the client's connection's unique bus name (the scope's
// Controller); "" if the bus refused the connection.
func (c *Client) UniqueName() string {
	_ = c.conn.wait()
	return c.conn.name
}

// AllowDevices records the device nodes among binds (host sources that
// are character or block devices), which CreateMachine then allows in the
// scope's device policy, read-only for --bind-ro. Sources that do not
// exist are skipped: the spawner reports them.
func (c *Client) AllowDevices(binds []nspawnopts.Bind) error {
	for _, b := range binds {
		if b.Source == "" || b.SourceInRoot {
			continue
		}
		dev, err := isDevice(b.Source)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("register: %w", err)
		}
		if dev {
			access := "rw"
			if b.ReadOnly {
				access = "r"
			}
			c.devices = append(c.devices, deviceAllow{b.Source, access})
		}
	}
	return nil
}

// isDevice reports whether p is a device node.
func isDevice(p string) (bool, error) {
	st, err := os.Stat(p)
	if err != nil {
		return false, err
	}
	return st.Mode()&os.ModeDevice != 0, nil
}

// OnRequestStop sets what to do when the machine's scope is stopped:
// systemd sends RequestStop to the scope's Controller, which is this
// client's bus connection. The spawner forwards it as it forwards
// SIGTERM. Set it once, before Register: the subscription goes out at
// once, and Register, which reports its failure, finds its answer there
// instead of waiting for a round trip of its own.
func (c *Client) OnRequestStop(stop func()) { c.subscribeRequestStop(stop) }

// Close closes the bus connection.
func (c *Client) Close() error { return c.conn.close() }

// Register calls RegisterMachineWithNetwork (m.KeepUnit) or
// CreateMachineWithNetwork.
func (c *Client) Register(m spawn.Machine) error {
	if err := c.conn.wait(); err != nil {
		return fmt.Errorf("register machine %s: %w", m.Name, err)
	}
	if err := c.awaitRequestStop(); err != nil {
		return err
	}
	h, body, err := c.registerCall(m)
	if err == nil {
		_, err = c.conn.call(h, body)
	}
	if err != nil && c.optional && noManager(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("register machine %s: %w", m.Name, err)
	}
	return nil
}

// registerCall is the header and body of m's registration: a call of
// RegisterMachineWithNetwork (m.KeepUnit) or CreateMachineWithNetwork.
func (c *Client) registerCall(m spawn.Machine) (dbuswire.Header, []byte, error) {
	h := dbuswire.Header{Type: dbuswire.TypeCall, Path: Path, Interface: Interface, Destination: BusName,
		Member: "RegisterMachineWithNetwork", Signature: "sayssusai"}
	var e dbuswire.Encoder
	e.Str(m.Name)
	e.Bytes(m.UUID[:])
	e.Str(c.service)
	e.Str("container")
	e.Uint32(uint32(m.Leader))
	e.Str(m.Directory)
	ifs := e.StartArray(4)
	for _, i := range m.NetIfIndices {
		e.Uint32(uint32(int32(i)))
	}
	e.EndArray(ifs)
	if !m.KeepUnit {
		h.Member, h.Signature = "CreateMachineWithNetwork", "sayssusaia(sv)"
		scopeProperties(&e, c.conn.name, c.devices, m.KillSignal)
	}
	return h, e.Buf, e.Err()
}

// noManager reports whether err says nobody owns the machine1 name.
func noManager(err error) bool {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
			ce.Name == "org.freedesktop.DBus.Error.NameHasNoOwner"
	}
	return false
}

// scopeProperties appends the unit properties (a(sv)) of the scope
// CreateMachine makes, in the order systemd-nspawn sends them: the
// controller (the registering connection, to which systemd sends
// RequestStop), the device policy with the API devices and one entry per
// bound device node, and the kill signal.
func scopeProperties(e *dbuswire.Encoder, controller string, devices []deviceAllow, killSignal int) {
	str := func(name, v string) {
		e.Align(8)
		e.Str(name)
		e.Sig("s")
		e.Str(v)
	}
	allow := func(list ...deviceAllow) {
		e.Align(8)
		e.Str("DeviceAllow")
		e.Sig("a(ss)")
		a := e.StartArray(8)
		for _, d := range list {
			e.Align(8)
			e.Str(d.Path)
			e.Str(d.Access)
		}
		e.EndArray(a)
	}
	props := e.StartArray(8)
	str("Controller", controller)
	str("DevicePolicy", "closed")
	allow(deviceAllow{"/dev/net/tun", "rwm"}, deviceAllow{"char-pts", "rw"})
	for _, d := range devices {
		allow(d)
	}
	if killSignal > 0 {
		e.Align(8)
		e.Str("KillSignal")
		e.Sig("i")
		e.Uint32(uint32(int32(killSignal)))
		str("KillMode", "mixed")
	}
	e.EndArray(props)
}

// deviceAllow is one (ss) DeviceAllow entry.
type deviceAllow struct {
	Path   string
	Access string
}

// Unregister calls UnregisterMachine.
func (c *Client) Unregister(name string) error {
	h := dbuswire.Header{Type: dbuswire.TypeCall, Path: Path, Interface: Interface, Destination: BusName,
		Member: "UnregisterMachine", Signature: "s"}
	_, err := c.conn.call(h, stringBody(name))
	return err
}
