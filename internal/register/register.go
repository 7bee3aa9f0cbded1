package register

import (
	"errors"
	"fmt"
	"os"

	"github.com/berth-dev/berth/internal/nspawnopts"
	"github.com/berth-dev/berth/internal/spawn"
	"github.com/godbus/dbus/v5"
)

// Bus names and paths of machine1.
const (
	BusName   = "org.freedesktop.machine1"
	Path      = dbus.ObjectPath("/org/freedesktop/machine1")
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
	conn    *dbus.Conn
	service string
	// optional makes a missing machine manager a no-op (--register=auto).
	optional bool
	// devices are the DeviceAllow entries of bound device nodes.
	devices []deviceAllow
	// stop is called when the scope's manager asks the machine to stop.
	stop func()
}

// Dial connects to the system bus for mode: nil for "no"; for "auto" nil
// when there is no bus; for "yes" an error when there is none.
func Dial(mode string) (*Client, error) {
	if mode == ModeNo {
		return nil, nil
	}
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		if mode == ModeAuto {
			return nil, nil
		}
		return nil, fmt.Errorf("register: cannot connect to the system bus (use --register=no): %w", err)
	}
	service := os.Getenv("SYSTEMD_NSPAWN_CONTAINER_SERVICE")
	if service == "" {
		service = DefaultService
	}
	return &Client{conn: conn, service: service, optional: mode == ModeAuto}, nil
}

// New wraps an open connection (tests use a private bus).
func New(conn *dbus.Conn, service string) *Client {
	return &Client{conn: conn, service: service}
}

// AllowDevices adds a DeviceAllow scope property for every bind whose
// source is a host device node ("r" for --bind-ro, "rw" otherwise), as
// systemd-nspawn does. A source that does not exist (yet) is skipped.
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

// isDevice reports whether p is a character or block device node.
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
// SIGTERM. Set it before Register.
func (c *Client) OnRequestStop(stop func()) { c.stop = stop }

// Close closes the bus connection.
func (c *Client) Close() error { return c.conn.Close() }

// Register calls RegisterMachineWithNetwork (m.KeepUnit) or
// CreateMachineWithNetwork.
func (c *Client) Register(m spawn.Machine) error {
	obj := c.conn.Object(BusName, Path)
	ifindices := make([]int32, 0, len(m.NetIfIndices))
	for _, i := range m.NetIfIndices {
		ifindices = append(ifindices, int32(i))
	}
	args := []any{m.Name, m.UUID[:], c.service, "container", uint32(m.Leader), m.Directory, ifindices}
	method := Interface + ".RegisterMachineWithNetwork"
	if !m.KeepUnit {
		method = Interface + ".CreateMachineWithNetwork"
		args = append(args, scopeProperties(c.conn.Names()[0], c.devices, m.KillSignal))
	}
	if err := c.watchRequestStop(); err != nil {
		return err
	}
	var path dbus.ObjectPath
	err := obj.Call(method, 0, args...).Store(&path)
	if err != nil && c.optional && noManager(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("register machine %s: %w", m.Name, err)
	}
	return nil
}

// noManager reports whether err says nobody owns the machine1 name.
func noManager(err error) bool {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
			de.Name == "org.freedesktop.DBus.Error.NameHasNoOwner"
	}
	return false
}

// scopeProperties are the unit properties of the scope CreateMachine
// makes, in the order systemd-nspawn sends them: the controller (the
// registering connection, to which systemd sends RequestStop), the device
// policy with the API devices and one entry per bound device node, and the
// kill signal.
func scopeProperties(controller string, devices []deviceAllow, killSignal int) []property {
	props := []property{
		{"Controller", dbus.MakeVariant(controller)},
		{"DevicePolicy", dbus.MakeVariant("closed")},
		{"DeviceAllow", dbus.MakeVariant([]deviceAllow{{"/dev/net/tun", "rwm"}, {"char-pts", "rw"}})},
	}
	for _, d := range devices {
		props = append(props, property{"DeviceAllow", dbus.MakeVariant([]deviceAllow{d})})
	}
	if killSignal > 0 {
		props = append(props,
			property{"KillSignal", dbus.MakeVariant(int32(killSignal))},
			property{"KillMode", dbus.MakeVariant("mixed")})
	}
	return props
}

// property is one (sv) unit property.
type property struct {
	Name  string
	Value dbus.Variant
}

// deviceAllow is one (ss) DeviceAllow entry.
type deviceAllow struct {
	Path   string
	Access string
}

// Unregister calls UnregisterMachine.
func (c *Client) Unregister(name string) error {
	return c.conn.Object(BusName, Path).Call(Interface+".UnregisterMachine", 0, name).Err
}
