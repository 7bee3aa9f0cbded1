package ctl

import (
	"fmt"

	"github.com/godbus/dbus/v5"
)

// Bus names, interfaces and paths of the machine1 API.
const (
	busName      = "org.freedesktop.machine1"
	managerPath  = dbus.ObjectPath("/org/freedesktop/machine1")
	managerIface = "org.freedesktop.machine1.Manager"
	machineIface = "org.freedesktop.machine1.Machine"
)

// client holds one bus connection and the name berthd answers on.
type client struct {
	conn *dbus.Conn
	dest string
}

// dial connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS when set).
func dial(dest string) (*client, error) {
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	return &client{conn: conn, dest: dest}, nil
}

// manager calls a method of the Manager interface.
func (c *client) manager(method string, args ...any) *dbus.Call {
	return c.conn.Object(c.dest, managerPath).Call(managerIface+"."+method, 0, args...)
}

// machinePath resolves a machine name to its object path.
func (c *client) machinePath(name string) (dbus.ObjectPath, error) {
	var p dbus.ObjectPath
	if err := c.manager("GetMachine", name).Store(&p); err != nil {
		return "", fmt.Errorf("machine %s: %w", name, err)
	}
	return p, nil
}

// properties returns every property of one interface of an object.
func (c *client) properties(path dbus.ObjectPath, iface string) (map[string]dbus.Variant, error) {
	var props map[string]dbus.Variant
	err := c.conn.Object(c.dest, path).Call("org.freedesktop.DBus.Properties.GetAll", 0, iface).Store(&props)
	return props, err
}
