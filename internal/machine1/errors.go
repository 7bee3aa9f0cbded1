package machine1

import (
	"errors"
	"io/fs"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/enable"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/lifecycle"
	"github.com/berth-dev/berth/internal/machine"
	"github.com/berth-dev/berth/internal/machinenet"
	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/treecopy"
	"github.com/berth-dev/berth/internal/unitgen"
)

// Errors of the adapter itself.
var (
	errAccessDenied = errors.New("access denied")
	// errInteractiveAuth: polkit would allow the call after the caller
	// authenticates, which the call did not allow.
	errInteractiveAuth = errors.New("interactive authorization required")
	errInvalidArgs     = errors.New("invalid arguments")
	errUnknownObject   = errors.New("unknown object")
	errNotSupported    = errors.New("not supported by berthd")
	errReadOnly        = errors.New("property is read-only")
	errUnknownProp     = errors.New("unknown property")
	errUnknownIface    = errors.New("unknown interface")
)

// errorNames maps sentinel errors to D-Bus error names, first match wins.
var errorNames = []struct {
	err  error
	name string
}{
	{errInteractiveAuth, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"},
	{errAccessDenied, "org.freedesktop.DBus.Error.AccessDenied"},
	{errInvalidArgs, "org.freedesktop.DBus.Error.InvalidArgs"},
	{errUnknownObject, "org.freedesktop.DBus.Error.UnknownObject"},
	{errUnknownProp, "org.freedesktop.DBus.Error.UnknownProperty"},
	{errUnknownIface, "org.freedesktop.DBus.Error.UnknownInterface"},
	{errReadOnly, "org.freedesktop.DBus.Error.PropertyReadOnly"},
	{images.ErrNotFound, "org.freedesktop.machine1.NoSuchImage"},
	{images.ErrExists, "org.freedesktop.DBus.Error.FileExists"},
	{images.ErrBusy, "System.Error.EBUSY"},
	{images.ErrReadOnly, "System.Error.EROFS"},
	{images.ErrSymlink, "System.Error.ELOOP"},
	{images.ErrNotSupported, "org.freedesktop.DBus.Error.NotSupported"},
	{names.ErrInvalid, "org.freedesktop.DBus.Error.InvalidArgs"},
	{machinenet.ErrInvalid, "org.freedesktop.DBus.Error.InvalidArgs"},
	{errNotSupported, "org.freedesktop.DBus.Error.NotSupported"},
	{machine.ErrNotFound, "org.freedesktop.machine1.NoSuchMachine"},
	{machine.ErrExists, "org.freedesktop.machine1.MachineExists"},
	{machine.ErrNoMachineForPID, "org.freedesktop.machine1.NoMachineForPID"},
	{machine.ErrNoPrivateNetworking, "org.freedesktop.machine1.NoPrivateNetworking"},
	{machine.ErrNoUserMapping, "org.freedesktop.machine1.NoSuchUserMapping"},
	{machine.ErrNoGroupMapping, "org.freedesktop.machine1.NoSuchGroupMapping"},
	{machine.ErrInvalid, "org.freedesktop.DBus.Error.InvalidArgs"},
	{machine.ErrNotSupported, "org.freedesktop.DBus.Error.NotSupported"},
	{machine.ErrLimit, "org.freedesktop.DBus.Error.LimitsExceeded"},
	{lifecycle.ErrRunning, "org.freedesktop.machine1.MachineExists"},
	{lifecycle.ErrNotRunning, "org.freedesktop.machine1.NoSuchMachine"},
	{lifecycle.ErrNoReboot, "org.freedesktop.DBus.Error.NotSupported"},
	{unitgen.ErrSettings, "org.freedesktop.DBus.Error.InvalidArgs"},
	{enable.ErrNotInstalled, "org.freedesktop.DBus.Error.FileNotFound"},
	{treecopy.ErrExists, "org.freedesktop.DBus.Error.FileExists"},
	{fs.ErrExist, "org.freedesktop.DBus.Error.FileExists"},
	{fs.ErrNotExist, "org.freedesktop.DBus.Error.FileNotFound"},
}

// busError is the one place where errors become D-Bus errors. nil stays
// nil; an error matching no sentinel is org.freedesktop.DBus.Error.Failed.
func busError(err error) *dbus.Error {
	if err == nil {
		return nil
	}
	var be *dbus.Error
	if errors.As(err, &be) {
		return be
	}
	name := "org.freedesktop.DBus.Error.Failed"
	for _, e := range errorNames {
		if errors.Is(err, e.err) {
			name = e.name
			break
		}
	}
	return &dbus.Error{Name: name, Body: []any{err.Error()}}
}
