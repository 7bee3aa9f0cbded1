package register

import (
	"errors"
	"fmt"
	"os"

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
		args = append(args, scopeProperties(m.KillSignal))
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
// makes, as systemd-nspawn sends them.
func scopeProperties(killSignal int) []property {
	props := []property{
		{"DevicePolicy", dbus.MakeVariant("closed")},
		{"DeviceAllow", dbus.MakeVariant([]deviceAllow{{"/dev/net/tun", "rwm"}, {"char-pts", "rw"}})},
	}
	if killSignal > 0 {
		props = append(props,
			property{"KillMode", dbus.MakeVariant("mixed")},
			property{"KillSignal", dbus.MakeVariant(int32(killSignal))})
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
