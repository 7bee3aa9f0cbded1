package machine1

import (
	"fmt"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/dbus-interfaces"
)

// propSet holds an object's property values: interface → name → value.
type propSet map[string]map[string]dbus.Variant

// hidden are properties readable with Get but left out of GetAll and
// introspection, as sd-bus's SD_BUS_VTABLE_HIDDEN: alias → real name.
var hidden = map[string]map[string]string{
	dbusinterfaces.Machine: {"Scope": "Unit"},
}

// propertyMethods is org.freedesktop.DBus.Properties over get.
func (s *Server) propertyMethods(get func(dbus.Message) (propSet, error)) iface {
	return iface{
		"Get": newMethod(func(msg dbus.Message, ifc, name string) (dbus.Variant, *dbus.Error) {
			ps, err := get(msg)
			if err != nil {
				return dbus.Variant{}, busError(err)
			}
			if real, ok := hidden[ifc][name]; ok {
				name = real
			}
			v, ok := ps[ifc][name]
			if !ok {
				return dbus.Variant{}, busError(fmt.Errorf("property %s.%s: %w", ifc, name, errUnknownProp))
			}
			return v, nil
		}),
		"GetAll": newMethod(func(msg dbus.Message, ifc string) (map[string]dbus.Variant, *dbus.Error) {
			ps, err := get(msg)
			if err != nil {
				return nil, busError(err)
			}
			return ps.all(ifc)
		}),
		"Set": newMethod(func(msg dbus.Message, ifc, name string, _ dbus.Variant) *dbus.Error {
			ps, err := get(msg)
			if err != nil {
				return busError(err)
			}
			if _, ok := ps[ifc][name]; !ok {
				return busError(fmt.Errorf("property %s.%s: %w", ifc, name, errUnknownProp))
			}
			return busError(fmt.Errorf("property %s.%s: %w", ifc, name, errReadOnly))
		}),
	}
}

// all returns the properties of ifc, or of every interface for "".
func (ps propSet) all(ifc string) (map[string]dbus.Variant, *dbus.Error) {
	if ifc != "" {
		if m, ok := ps[ifc]; ok {
			return m, nil
		}
		return map[string]dbus.Variant{}, nil
	}
	out := map[string]dbus.Variant{}
	for _, m := range ps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

// managerProps returns the Manager's properties.
func (s *Server) managerProps(dbus.Message) (propSet, error) {
	v := dbus.MakeVariant
	usage, limit := uint64(unknownSize), uint64(unknownSize)
	if s.opts.Images != nil {
		usage, limit = s.opts.Images.PoolUsage()
	}
	return propSet{
		dbusinterfaces.Manager: {
			"PoolPath": v(s.opts.PoolPath), "PoolUsage": v(usage), "PoolLimit": v(limit),
		},
		dbusinterfaces.BerthManager: {"Version": v(s.opts.Version)},
	}, nil
}

// unknownSize is machined's "unknown" for sizes and limits.
const unknownSize = ^uint64(0)
