package ctl

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/godbus/dbus/v5"
	"github.com/spf13/cobra"
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

// signalNumbers maps the signal names berthctl accepts to their numbers.
var signalNumbers = map[string]int32{
	"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "TERM": 15,
	"CONT": 18, "STOP": 19, "WINCH": 28, "RTMIN": 34,
}

// parseSignal accepts "SIGTERM", "TERM", "15" and "RTMIN+N".
func parseSignal(s string) (int32, error) {
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if n, ok := signalNumbers[name]; ok {
		return n, nil
	}
	if off, ok := strings.CutPrefix(name, "RTMIN+"); ok {
		if n, err := strconv.Atoi(off); err == nil && n >= 0 && n <= 30 {
			return 34 + int32(n), nil
		}
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return int32(n), nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
