package machine1

import (
	"fmt"
	"sort"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/dbus-interfaces"
	"github.com/berth-dev/berth/internal/buslabel"
)

const introspectHeader = `<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
`

// standardInterfaces are the interfaces every object has, as sd-bus lists them.
const standardInterfaces = ` <interface name="org.freedesktop.DBus.Peer">
  <method name="Ping"/>
  <method name="GetMachineId">
   <arg type="s" name="machine_uuid" direction="out"/>
  </method>
 </interface>
 <interface name="org.freedesktop.DBus.Introspectable">
  <method name="Introspect">
   <arg name="xml_data" type="s" direction="out"/>
  </method>
 </interface>
 <interface name="org.freedesktop.DBus.Properties">
  <method name="Get">
   <arg name="interface_name" direction="in" type="s"/>
   <arg name="property_name" direction="in" type="s"/>
   <arg name="value" direction="out" type="v"/>
  </method>
  <method name="GetAll">
   <arg name="interface_name" direction="in" type="s"/>
   <arg name="props" direction="out" type="a{sv}"/>
  </method>
  <method name="Set">
   <arg name="interface_name" direction="in" type="s"/>
   <arg name="property_name" direction="in" type="s"/>
   <arg name="value" direction="in" type="v"/>
  </method>
  <signal name="PropertiesChanged">
   <arg type="s" name="interface_name"/>
   <arg type="a{sv}" name="changed_properties"/>
   <arg type="as" name="invalidated_properties"/>
  </signal>
 </interface>
`

// introspectMethods is org.freedesktop.DBus.Introspectable over build.
func (s *Server) introspectMethods(build func(dbus.Message) (string, error)) iface {
	return iface{"Introspect": newMethod(func(msg dbus.Message) (string, *dbus.Error) {
		xml, err := build(msg)
		return xml, busError(err)
	})}
}

// node renders an introspection document with the standard interfaces,
// the named interfaces from dbus-interfaces/ and the child nodes.
func node(ifaces []string, children []string) (string, error) {
	var b strings.Builder
	b.WriteString(introspectHeader)
	b.WriteString(standardInterfaces)
	for _, name := range ifaces {
		el, err := dbusinterfaces.Element(name)
		if err != nil {
			return "", err
		}
		b.WriteString(" " + el + "\n")
	}
	for _, c := range children {
		fmt.Fprintf(&b, " <node name=\"%s\"/>\n", c)
	}
	b.WriteString("</node>\n")
	return b.String(), nil
}

func (s *Server) introspectManager(dbus.Message) (string, error) {
	return node([]string{dbusinterfaces.Manager, dbusinterfaces.BerthManager}, []string{"image", "machine"})
}

func (s *Server) introspectMachine(msg dbus.Message) (string, error) {
	if _, err := s.machineOf(msg); err != nil {
		return "", err
	}
	return node([]string{dbusinterfaces.Machine, dbusinterfaces.BerthMachine}, nil)
}

func (s *Server) introspectImage(msg dbus.Message) (string, error) {
	if _, err := s.imageOf(msg); err != nil {
		return "", err
	}
	return node([]string{dbusinterfaces.Image}, nil)
}

func (s *Server) introspectMachineDir(dbus.Message) (string, error) {
	var labels []string
	for _, m := range s.opts.Machines.List() {
		labels = append(labels, buslabel.Escape(m.Name))
	}
	sort.Strings(labels)
	return node(nil, labels)
}

func (s *Server) introspectImageDir(dbus.Message) (string, error) {
	var labels []string
	if s.opts.Images != nil {
		imgs, err := s.opts.Images.List()
		if err != nil {
			return "", err
		}
		for _, i := range imgs {
			labels = append(labels, buslabel.Escape(i.Name))
		}
	}
	sort.Strings(labels)
	return node(nil, labels)
}

// introspectParent serves "/", "/org" and "/org/freedesktop".
func (s *Server) introspectParent(msg dbus.Message) (string, error) {
	child := map[dbus.ObjectPath]string{"/": "org", "/org": "freedesktop", "/org/freedesktop": "machine1"}[path(msg)]
	return node(nil, []string{child})
}
