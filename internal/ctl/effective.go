package ctl

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/berthapi"
)

// effectiveReply is GetEffectiveSettings' reply.
type effectiveReply struct {
	source   string
	command  []string
	file     string
	trusted  bool
	mode     string
	rows     []berthapi.Setting
	warnings []string
}

func effectiveSettingsCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "settings NAME",
		Short: "Show the .nspawn settings a machine runs with, and where each comes from (--all: also those left at their defaults)",
		Long: "Shows every .nspawn setting berth-nspawn uses for the machine with its origin: default, the command line " +
			"(of the berth-nspawn running the machine, else of its unit), or FILE:LINE of its settings file; then the " +
			"warnings, such as privileged settings ignored because the file is untrusted.",
		Args: cobra.ExactArgs(1),
		RunE: o.call("settings", func(c *client, args []string) error {
			var r effectiveReply
			err := c.berth("GetEffectiveSettings", args[0]).Store(&r.source, &r.command, &r.file, &r.trusted, &r.mode, &r.rows, &r.warnings)
			if err != nil {
				return err
			}
			return o.printEffective(r)
		}),
	}
}

// printEffective prints the reply: a summary, the settings table, the
// warnings.
func (o *options) printEffective(r effectiveReply) error {
	file := "none"
	if r.file != "" {
		file = r.file + map[bool]string{true: " (trusted)", false: " (untrusted)"}[r.trusted]
	}
	if !o.noLegend {
		fmt.Fprintf(o.out, "Command line (%s): %s\nSettings file: %s\nSettings mode: %s\n\n", r.source, strings.Join(r.command, " "), file, r.mode)
	}
	var rows [][]string
	for _, s := range r.rows {
		if o.all || s.Origin != "default" {
			rows = append(rows, []string{s.Section, s.Key, s.Value, s.Origin})
		}
	}
	if err := o.table("SECTION\tKEY\tVALUE\tORIGIN", "settings", rows); err != nil {
		return err
	}
	if len(r.warnings) > 0 {
		fmt.Fprintln(o.out, "\nWarnings:")
		for _, w := range r.warnings {
			fmt.Fprintln(o.out, "  "+w)
		}
	}
	return nil
}
