package ctl

import (
	"fmt"
	"sort"

	"github.com/godbus/dbus/v5"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/signame"
)

func statusCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "status NAME...",
		Short: "Show the properties of machines",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect()
			if err != nil {
				return err
			}
			for i, name := range args {
				if i > 0 {
					fmt.Fprintln(o.out)
				}
				if err := o.printStatus(c, name); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// printStatus writes a machine's properties as sorted KEY=VALUE lines.
func (o *options) printStatus(c *client, name string) error {
	path, err := c.machinePath(name)
	if err != nil {
		return err
	}
	props, err := c.properties(path, machineIface)
	if err != nil {
		return fmt.Errorf("machine %s: %w", name, err)
	}
	o.printProperties(props)
	return nil
}

// printProperties writes properties as sorted KEY=VALUE lines.
func (o *options) printProperties(props map[string]dbus.Variant) {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(o.out, "%s=%v\n", k, props[k].Value())
	}
}

func terminateCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "terminate NAME...",
		Short: "Terminate machines: kill every process at once, without a clean shutdown",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect()
			if err != nil {
				return err
			}
			for _, name := range args {
				if err := c.manager("TerminateMachine", name).Err; err != nil {
					return fmt.Errorf("terminate %s: %w", name, err)
				}
			}
			return nil
		},
	}
}

func killCommand(o *options) *cobra.Command {
	var who, signal string
	cmd := &cobra.Command{
		Use:   "kill NAME...",
		Short: "Send a signal to the processes of machines",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := parseSignal(signal)
			if err != nil {
				return err
			}
			c, err := o.connect()
			if err != nil {
				return err
			}
			for _, name := range args {
				if err := c.manager("KillMachine", name, who, sig).Err; err != nil {
					return fmt.Errorf("kill %s: %w", name, err)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&who, "kill-whom", "all", "which processes to signal: leader or all")
	cmd.Flags().StringVarP(&signal, "signal", "s", "SIGTERM", "signal to send, by name or number")
	return cmd
}

// parseSignal reads a signal as machinectl does ("SIGTERM", "TERM",
// "SIGRTMIN+4", a number) for the bus's int32.
func parseSignal(s string) (int32, error) {
	n, err := signame.Parse(s)
	return int32(n), err
}
