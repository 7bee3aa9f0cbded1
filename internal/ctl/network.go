package ctl

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/berthapi"
)

// errFindings makes diagnose exit with status 1 after printing its
// findings.
var errFindings = errors.New("the network of the machine has problems (see above)")

// table writes a header (unless --no-legend), rows and a footer naming
// count things.
func (o *options) table(header, what string, rows [][]string) error {
	w := tabwriter.NewWriter(o.out, 0, 8, 1, ' ', 0)
	if !o.noLegend {
		fmt.Fprintln(w, header)
	}
	for _, r := range rows {
		for i, f := range r {
			if i > 0 {
				fmt.Fprint(w, "\t")
			}
			fmt.Fprint(w, orDash(f))
		}
		fmt.Fprintln(w)
	}
	if !o.noLegend {
		fmt.Fprintf(w, "\n%d %s listed.\n", len(rows), what)
	}
	return w.Flush()
}

// listCall returns a RunE that stores the reply of a dev.berth.Manager1
// list method in a fresh []T and prints it as rows.
func listCall[T any](o *options, method, header, what string, row func(T) []string) func(*cobra.Command, []string) error {
	return func(*cobra.Command, []string) error {
		c, err := o.connect()
		if err != nil {
			return err
		}
		var got []T
		if err := c.berth(method).Store(&got); err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		rows := make([][]string, len(got))
		for i, g := range got {
			rows[i] = row(g)
		}
		sort.Slice(rows, func(i, j int) bool { return strings.Join(rows[i], "\t") < strings.Join(rows[j], "\t") })
		return o.table(header, what, rows)
	}
}

func linksCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "links",
		Short: "List the ve-*/vz-* links berthd manages, with their subnets and host addresses",
		Args:  cobra.NoArgs,
		RunE: listCall(o, "ListLinks", "LINK\tIFINDEX\tKIND\tSUBNET\tHOST ADDRESS\tIPV6 SUBNET\tHOST IPV6 ADDRESS", "links",
			func(l berthapi.Link) []string {
				kind := "veth"
				if l.Zone {
					kind = "zone"
				}
				return []string{l.Name, strconv.Itoa(int(l.Index)), kind, l.Subnet, l.Address, l.Subnet6, l.Address6}
			}),
	}
}

func leasesCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "leases",
		Short: "List the DHCP leases berthd handed out (expired ones included)",
		Args:  cobra.NoArgs,
		RunE: listCall(o, "ListLeases", "LINK\tADDRESS\tMAC\tHOSTNAME\tEXPIRES", "leases",
			func(l berthapi.Lease) []string {
				exp := time.UnixMicro(int64(l.ExpiryUSec)).UTC().Format(time.RFC3339)
				return []string{l.Link, l.Address, l.HWAddr, l.Hostname, exp}
			}),
	}
}

func portsCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "ports",
		Short: "List port forwards: persistent ones (port-add) and those machines asked for with -p",
		Args:  cobra.NoArgs,
		RunE: listCall(o, "ListPortForwards", "MACHINE\tPROTO\tHOST PORT\tCONTAINER PORT\tADDRESS\tIPV6 ADDRESS\tPERSISTENT", "port forwards",
			func(f berthapi.Forward) []string {
				return []string{f.Machine, f.Proto, strconv.Itoa(int(f.HostPort)), strconv.Itoa(int(f.ContainerPort)),
					f.Address, f.Address6, strconv.FormatBool(f.Persistent)}
			}),
	}
}

// portArgs parses MACHINE [tcp|udp] PORT... into the machine, protocol
// (tcp when left out) and n ports.
func portArgs(args []string, n int) (string, string, []uint16, error) {
	machine, proto, rest := args[0], "tcp", args[1:]
	if len(rest) == n+1 {
		proto, rest = rest[0], rest[1:]
	}
	if len(rest) != n {
		return "", "", nil, fmt.Errorf("want MACHINE [tcp|udp] and %d port(s), got %d arguments", n, len(args))
	}
	if proto != "tcp" && proto != "udp" {
		return "", "", nil, fmt.Errorf("protocol %q: want tcp or udp", proto)
	}
	ports := make([]uint16, n)
	for i, s := range rest {
		p, err := strconv.ParseUint(s, 10, 16)
		if err != nil || p == 0 {
			return "", "", nil, fmt.Errorf("port %q: want a number from 1 to 65535", s)
		}
		ports[i] = uint16(p)
	}
	return machine, proto, ports, nil
}

func portAddCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "port-add MACHINE [tcp|udp] HOSTPORT CONTAINERPORT",
		Short: "Forward a host port to a machine, persistently (protocol tcp when left out)",
		Args:  cobra.RangeArgs(3, 4),
		RunE: func(_ *cobra.Command, args []string) error {
			machine, proto, ports, err := portArgs(args, 2)
			if err != nil {
				return err
			}
			c, err := o.connect()
			if err != nil {
				return err
			}
			if err := c.berth("AddPortForward", machine, proto, ports[0], ports[1]).Err; err != nil {
				return fmt.Errorf("port-add %s: %w", machine, err)
			}
			return nil
		},
	}
}

func portRemoveCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "port-remove MACHINE [tcp|udp] HOSTPORT",
		Short: "Remove a persistent port forward (protocol tcp when left out)",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(_ *cobra.Command, args []string) error {
			machine, proto, ports, err := portArgs(args, 1)
			if err != nil {
				return err
			}
			c, err := o.connect()
			if err != nil {
				return err
			}
			if err := c.berth("RemovePortForward", machine, proto, ports[0]).Err; err != nil {
				return fmt.Errorf("port-remove %s: %w", machine, err)
			}
			return nil
		},
	}
}

func diagnoseCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "diagnose MACHINE",
		Short: "Say why a machine may have no connectivity, as berthd sees it from the host side",
		Long: "diagnose prints each problem berthd finds with the machine's network (code and message, most\n" +
			"fundamental first). Exit status: 0 when berthd sees nothing wrong (it prints \"no problems found\"),\n" +
			"1 when there are findings or the machine is unknown.",
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := o.connect()
			if err != nil {
				return err
			}
			var found []berthapi.Finding
			if err := c.berth("DiagnoseNetwork", args[0]).Store(&found); err != nil {
				return fmt.Errorf("diagnose %s: %w", args[0], err)
			}
			if len(found) == 0 {
				fmt.Fprintf(o.out, "%s: no problems found on the host side\n", args[0])
				return nil
			}
			for _, f := range found {
				fmt.Fprintf(o.out, "%s: %s\n", f.Code, f.Message)
			}
			return errFindings
		},
	}
}

// networkCommands are the container networking verbs over dev.berth.Manager1.
func networkCommands(o *options) []*cobra.Command {
	return []*cobra.Command{
		linksCommand(o), leasesCommand(o), portsCommand(o),
		portAddCommand(o), portRemoveCommand(o), diagnoseCommand(o),
	}
}
