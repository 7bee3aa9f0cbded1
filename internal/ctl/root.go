package ctl

import (
	"errors"
	"fmt"
	"io"

	"github.com/godbus/dbus/v5"
	"github.com/spf13/cobra"
)

// options are the flags every command shares.
type options struct {
	busName  string
	noLegend bool
	all      bool
	out      io.Writer
}

// NewCommand returns berthctl's root command writing to out.
func NewCommand(out io.Writer) *cobra.Command {
	o := &options{out: out}
	root := &cobra.Command{
		Use:           "berthctl",
		Short:         "Control machines managed by berthd",
		Long:          "berthctl lists and controls the machines berthd (or any org.freedesktop.machine1 service) manages, over the system bus.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	f := root.PersistentFlags()
	f.StringVar(&o.busName, "bus-name", busName, "bus name of the machine manager")
	f.BoolVar(&o.noLegend, "no-legend", false, "do not print the header and footer")
	f.BoolVarP(&o.all, "all", "a", false, "also show hidden machines (names starting with '.')")
	root.AddCommand(listCommand(o), statusCommand(o), terminateCommand(o), killCommand(o))
	root.AddCommand(lifecycleCommands(o)...)
	root.AddCommand(imageCommands(o)...)
	root.AddCommand(settingsCommands(o)...)
	root.AddCommand(networkCommands(o)...)
	return root
}

// Execute runs berthctl with args and returns the process exit code.
func Execute(args []string, out, errOut io.Writer) int {
	cmd := NewCommand(out)
	cmd.SetArgs(args)
	cmd.SetErr(errOut)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(errOut, "berthctl:", describe(err))
		return 1
	}
	return 0
}

// describe turns a bus error into the message a user should read.
func describe(err error) string {
	var de dbus.Error
	if errors.As(err, &de) && len(de.Body) > 0 {
		if msg, ok := de.Body[0].(string); ok {
			return fmt.Sprintf("%s (%s)", msg, de.Name)
		}
	}
	return err.Error()
}

// connect dials the bus for a command.
func (o *options) connect() (*client, error) { return dial(o.busName) }
