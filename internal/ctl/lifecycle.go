package ctl

import (
	"fmt"

	"github.com/godbus/dbus/v5"
	"github.com/spf13/cobra"
)

// berthManagerIface is berth's extension of the Manager.
const berthManagerIface = "dev.berth.Manager1"

// berth calls a method of berth's Manager extension. Lifecycle calls may
// take as long as a machine's start or stop timeout, so they wait for
// the reply however long it takes (the daemon bounds them).
func (c *client) berth(method string, args ...any) *dbus.Call {
	return c.conn.Object(c.dest, managerPath).Call(berthManagerIface+"."+method, 0, args...)
}

// eachMachine returns a RunE that calls fn for every NAME argument.
func (o *options) eachMachine(fn func(c *client, name string) error) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		c, err := o.connect()
		if err != nil {
			return err
		}
		for _, name := range args {
			if err := fn(c, name); err != nil {
				return err
			}
		}
		return nil
	}
}

func startCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "start NAME...",
		Short: "Start machines from their images, as units of berth-nspawn@.service",
		Args:  cobra.MinimumNArgs(1),
		RunE: o.eachMachine(func(c *client, name string) error {
			if err := c.berth("StartMachine", name).Err; err != nil {
				return fmt.Errorf("start %s: %w", name, err)
			}
			return nil
		}),
	}
}

func powerOffCommand(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "poweroff NAME...",
		Short: "Shut machines down cleanly with their init's own signal; wait until they are down",
		Args:  cobra.MinimumNArgs(1),
		RunE: o.eachMachine(func(c *client, name string) error {
			if err := c.berth("PowerOffMachine", name, force).Err; err != nil {
				return fmt.Errorf("power off %s: %w", name, err)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&force, "force", false, "kill the machines at once instead of asking their init")
	return cmd
}

func rebootCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "reboot NAME...",
		Short: "Reboot machines with their init's own signal",
		Args:  cobra.MinimumNArgs(1),
		RunE: o.eachMachine(func(c *client, name string) error {
			if err := c.berth("RebootMachine", name).Err; err != nil {
				return fmt.Errorf("reboot %s: %w", name, err)
			}
			return nil
		}),
	}
}

// change is one file change EnableMachine and DisableMachine report.
type change struct{ Type, Path, Target string }

func enableCommand(o *options, method, use, short, nowHelp string) *cobra.Command {
	var now bool
	cmd := &cobra.Command{
		Use:   use + " NAME...",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: o.eachMachine(func(c *client, name string) error {
			var changes []change
			if err := c.berth(method, name, now).Store(&changes); err != nil {
				return fmt.Errorf("%s %s: %w", use, name, err)
			}
			o.printChanges(changes)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&now, "now", false, nowHelp)
	return cmd
}

// printChanges reports file changes as systemctl enable does.
func (o *options) printChanges(changes []change) {
	for _, ch := range changes {
		switch ch.Type {
		case "symlink":
			fmt.Fprintf(o.out, "Created symlink %s → %s.\n", ch.Path, ch.Target)
		case "unlink":
			fmt.Fprintf(o.out, "Removed %s.\n", ch.Path)
		default:
			fmt.Fprintf(o.out, "Wrote %s.\n", ch.Path)
		}
	}
}

// lifecycleCommands are the verbs over dev.berth.Manager1.
func lifecycleCommands(o *options) []*cobra.Command {
	return []*cobra.Command{
		startCommand(o), powerOffCommand(o), rebootCommand(o),
		enableCommand(o, "EnableMachine", "enable", "Start machines at boot", "also start them now"),
		enableCommand(o, "DisableMachine", "disable", "Do not start machines at boot", "also power them off now"),
	}
}
