package ctl

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/godbus/dbus/v5"
	"github.com/spf13/cobra"
)

// machineRow is one entry of ListMachines.
type machineRow struct {
	Name, Class, Service string
	Path                 dbus.ObjectPath
}

func listCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List running machines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.connect()
			if err != nil {
				return err
			}
			var rows []machineRow
			if err := c.manager("ListMachines").Store(&rows); err != nil {
				return fmt.Errorf("list machines: %w", err)
			}
			return o.printList(c, rows)
		},
	}
}

// printList writes the table machinectl list writes: name, class, service,
// OS, version and addresses.
func (o *options) printList(c *client, rows []machineRow) error {
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	w := tabwriter.NewWriter(o.out, 0, 8, 1, ' ', 0)
	if !o.noLegend {
		fmt.Fprintln(w, "MACHINE\tCLASS\tSERVICE\tOS\tVERSION\tADDRESSES")
	}
	n := 0
	for _, r := range rows {
		if strings.HasPrefix(r.Name, ".") && !o.all {
			continue
		}
		osID, version := c.osVersion(r.Name)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Class, r.Service, osID, version, c.addresses(r.Name))
		n++
	}
	if !o.noLegend {
		fmt.Fprintf(w, "\n%d machines listed.\n", n)
	}
	return w.Flush()
}

// osVersion returns ID and VERSION_ID of a machine's os-release, or "-".
func (c *client) osVersion(name string) (string, string) {
	var rel map[string]string
	if err := c.manager("GetMachineOSRelease", name).Store(&rel); err != nil {
		return "-", "-"
	}
	return orDash(rel["ID"]), orDash(rel["VERSION_ID"])
}

// addresses returns a machine's addresses, comma-separated, or "-".
func (c *client) addresses(name string) string {
	var addrs []struct {
		Family int32
		Addr   []byte
	}
	if err := c.manager("GetMachineAddresses", name).Store(&addrs); err != nil || len(addrs) == 0 {
		return "-"
	}
	var s []string
	for _, a := range addrs {
		s = append(s, net.IP(a.Addr).String())
	}
	return strings.Join(s, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
