package ctl

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/spf13/cobra"
)

// imageIface is the machine1 Image interface.
const imageIface = "org.freedesktop.machine1.Image"

// imageRow is one entry of ListImages: a(ssbttto).
type imageRow struct {
	Name, Type           string
	ReadOnly             bool
	Crtime, Mtime, Usage uint64
	Path                 dbus.ObjectPath
}

func listImagesCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "list-images",
		Short: "List the images machines start from",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, err := o.connect()
			if err != nil {
				return err
			}
			var rows []imageRow
			if err := c.manager("ListImages").Store(&rows); err != nil {
				return fmt.Errorf("list images: %w", err)
			}
			return o.printImages(rows)
		},
	}
}

// printImages writes the table machinectl list-images writes.
func (o *options) printImages(rows []imageRow) error {
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	w := tabwriter.NewWriter(o.out, 0, 8, 1, ' ', 0)
	if !o.noLegend {
		fmt.Fprintln(w, "NAME\tTYPE\tRO\tUSAGE\tCREATED\tMODIFIED")
	}
	n := 0
	for _, r := range rows {
		if strings.HasPrefix(r.Name, ".") && !o.all {
			continue
		}
		ro := "no"
		if r.ReadOnly {
			ro = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Type, ro, formatBytes(r.Usage), formatTime(r.Crtime), formatTime(r.Mtime))
		n++
	}
	if !o.noLegend {
		fmt.Fprintf(w, "\n%d images listed.\n", n)
	}
	return w.Flush()
}

// formatBytes writes a size as machinectl does (1024-based), "-" when unknown.
func formatBytes(n uint64) string {
	if n == ^uint64(0) {
		return "-"
	}
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatUint(n, 10) + "B"
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v, i = v/1024, i+1
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + string(units[i])
}

// formatTime writes a µs timestamp in UTC, "-" when unknown.
func formatTime(usec uint64) string {
	if usec == 0 || usec == ^uint64(0) {
		return "-"
	}
	return time.UnixMicro(int64(usec)).UTC().Format("Mon 2006-01-02 15:04:05 MST")
}

func imageStatusCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "image-status NAME...",
		Short: "Show the properties of images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := o.connect()
			if err != nil {
				return err
			}
			for i, name := range args {
				if i > 0 {
					fmt.Fprintln(o.out)
				}
				var path dbus.ObjectPath
				if err := c.manager("GetImage", name).Store(&path); err != nil {
					return fmt.Errorf("image %s: %w", name, err)
				}
				props, err := c.properties(path, imageIface)
				if err != nil {
					return fmt.Errorf("image %s: %w", name, err)
				}
				o.printProperties(props)
			}
			return nil
		},
	}
}

func cloneCommand(o *options) *cobra.Command {
	var readOnly bool
	cmd := &cobra.Command{
		Use:   "clone NAME NEW",
		Short: "Copy an image under a new name",
		Args:  cobra.ExactArgs(2),
		RunE: o.call("clone", func(c *client, args []string) error {
			return c.manager("CloneImage", args[0], args[1], readOnly).Err
		}),
	}
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "make the copy read-only")
	return cmd
}

func renameCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "rename NAME NEW",
		Short: "Rename an image",
		Args:  cobra.ExactArgs(2),
		RunE: o.call("rename", func(c *client, args []string) error {
			return c.manager("RenameImage", args[0], args[1]).Err
		}),
	}
}

func readOnlyCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "read-only NAME [BOOL]",
		Short: "Mark an image read-only (or, with false, writable)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: o.call("read-only", func(c *client, args []string) error {
			ro := true
			if len(args) == 2 {
				b, err := parseBool(args[1])
				if err != nil {
					return err
				}
				ro = b
			}
			return c.manager("MarkImageReadOnly", args[0], ro).Err
		}),
	}
}

// parseBool accepts the boolean words systemd tools accept.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "yes", "y", "true", "t", "on":
		return true, nil
	case "0", "no", "n", "false", "f", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}

func removeCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME...",
		Short: "Remove images",
		Args:  cobra.MinimumNArgs(1),
		RunE: o.eachMachine(func(c *client, name string) error {
			if err := c.manager("RemoveImage", name).Err; err != nil {
				return fmt.Errorf("remove %s: %w", name, err)
			}
			return nil
		}),
	}
}

func cleanCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "clean",
		Short: "Remove hidden images (names starting with '.'), or with -a/--all every image",
		Args:  cobra.NoArgs,
		RunE: o.call("clean", func(c *client, _ []string) error {
			mode := "hidden"
			if o.all {
				mode = "all"
			}
			var removed []struct {
				Name  string
				Usage uint64
			}
			if err := c.manager("CleanPool", mode).Store(&removed); err != nil {
				return err
			}
			for _, r := range removed {
				fmt.Fprintf(o.out, "Removed image '%s'. Freed exclusive disk space: %s\n", r.Name, formatBytes(r.Usage))
			}
			return nil
		}),
	}
}

// call returns a RunE that connects and runs fn, naming the verb in errors.
func (o *options) call(verb string, fn func(c *client, args []string) error) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		c, err := o.connect()
		if err != nil {
			return err
		}
		if err := fn(c, args); err != nil {
			return fmt.Errorf("%s %s: %w", verb, strings.Join(args, " "), err)
		}
		return nil
	}
}

// imageCommands are the image verbs over org.freedesktop.machine1.
func imageCommands(o *options) []*cobra.Command {
	return []*cobra.Command{
		listImagesCommand(o), imageStatusCommand(o), cloneCommand(o), renameCommand(o),
		readOnlyCommand(o), removeCommand(o), cleanCommand(o),
	}
}
