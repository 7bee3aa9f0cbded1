package dbusinterfaces

import (
	"embed"
	"fmt"
	"strings"
)

//go:embed *.xml
var files embed.FS

// The interface names, each with a NAME.xml file here.
const (
	Manager      = "org.freedesktop.machine1.Manager"
	Machine      = "org.freedesktop.machine1.Machine"
	Image        = "org.freedesktop.machine1.Image"
	BerthManager = "dev.berth.Manager1"
	BerthMachine = "dev.berth.Machine1"
)

// Names lists every interface in this package.
var Names = []string{Manager, Machine, Image, BerthManager, BerthMachine}

// Document returns the whole XML file of interface name.
func Document(name string) (string, error) {
	data, err := files.ReadFile(name + ".xml")
	if err != nil {
		return "", fmt.Errorf("interface %s: %w", name, err)
	}
	return string(data), nil
}

// Element returns the <interface> element of interface name, to be placed
// in an introspection <node>.
func Element(name string) (string, error) {
	doc, err := Document(name)
	if err != nil {
		return "", err
	}
	start := strings.Index(doc, "<interface ")
	end := strings.LastIndex(doc, "</interface>")
	if start < 0 || end < start {
		return "", fmt.Errorf("interface %s: no <interface> element", name)
	}
	return doc[start : end+len("</interface>")], nil
}
