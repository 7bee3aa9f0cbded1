package ctl

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/spf13/cobra"
)

func showSettingsCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "show-settings NAME",
		Short: "Show a machine's persistent settings (resource limits, signals, stop timeout, environment)",
		Args:  cobra.ExactArgs(1),
		RunE: o.call("show-settings", func(c *client, args []string) error {
			var props map[string]dbus.Variant
			if err := c.berth("GetMachineSettings", args[0]).Store(&props); err != nil {
				return err
			}
			o.printProperties(props)
			return nil
		}),
	}
}

func setCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "set NAME KEY=VALUE...",
		Short: "Change a machine's persistent settings; they apply from its next start",
		Long: "Keys: MemoryMax, TasksMax (a number, K/M/G/T suffixes for MemoryMax, or infinity), CPUQuota (percent, 150%), " +
			"CPUWeight, IOWeight, TimeoutStopSec (a duration: 10s, 2m), KillSignal, PowerOffSignal, RebootSignal (a signal name " +
			"or number), Environment (NAME=VALUE, repeatable). An empty value returns a key to the default.",
		Args: cobra.MinimumNArgs(2),
		RunE: o.call("set", func(c *client, args []string) error {
			changes, err := parseSettings(args[1:])
			if err != nil {
				return err
			}
			return c.berth("SetMachineSettings", args[0], changes).Err
		}),
	}
}

// parseSettings turns KEY=VALUE arguments into SetMachineSettings' map.
func parseSettings(args []string) (map[string]dbus.Variant, error) {
	out := map[string]dbus.Variant{}
	var env []string
	for _, a := range args {
		key, value, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want KEY=VALUE", a)
		}
		if key == "Environment" {
			if value != "" {
				env = append(env, value)
			}
			out[key] = dbus.MakeVariant(env)
			continue
		}
		parse, ok := settingParsers[key]
		if !ok {
			return nil, fmt.Errorf("unknown setting %q", key)
		}
		busKey, v, err := parse(key, value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		out[busKey] = v
	}
	return out, nil
}

type settingParser func(key, value string) (string, dbus.Variant, error)

var settingParsers = map[string]settingParser{
	"MemoryMax":      uintSetting(parseSize),
	"TasksMax":       uintSetting(parseCount),
	"CPUQuota":       uintSetting(parsePercent),
	"CPUWeight":      uintSetting(parseCount),
	"IOWeight":       uintSetting(parseCount),
	"TimeoutStopSec": parseTimeout,
	"KillSignal":     signalSetting,
	"PowerOffSignal": signalSetting,
	"RebootSignal":   signalSetting,
}

func uintSetting(parse func(string) (uint64, error)) settingParser {
	return func(key, value string) (string, dbus.Variant, error) {
		if value == "" {
			return key, dbus.MakeVariant(uint64(0)), nil
		}
		n, err := parse(value)
		return key, dbus.MakeVariant(n), err
	}
}

// infinity is the bus value of "no limit".
const infinity = ^uint64(0)

func parseCount(s string) (uint64, error) {
	if s == "infinity" {
		return infinity, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// parseSize accepts bytes with an optional K, M, G or T suffix (1024-based).
func parseSize(s string) (uint64, error) {
	if s == "infinity" {
		return infinity, nil
	}
	shift := map[byte]uint{'K': 10, 'M': 20, 'G': 30, 'T': 40}
	var sh uint
	if n := len(s); n > 0 {
		if v, ok := shift[s[n-1]]; ok {
			sh, s = v, s[:n-1]
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n > infinity>>sh {
		return 0, fmt.Errorf("%s is too large", s)
	}
	return n << sh, nil
}

func parsePercent(s string) (uint64, error) {
	return strconv.ParseUint(strings.TrimSuffix(s, "%"), 10, 64)
}

func parseTimeout(_, value string) (string, dbus.Variant, error) {
	const key = "TimeoutStopUSec"
	if value == "" {
		return key, dbus.MakeVariant(uint64(0)), nil
	}
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		return key, dbus.Variant{}, fmt.Errorf("not a positive duration: %q", value)
	}
	return key, dbus.MakeVariant(uint64(d / time.Microsecond)), nil
}

func signalSetting(key, value string) (string, dbus.Variant, error) {
	if value == "" {
		return key, dbus.MakeVariant(int32(0)), nil
	}
	n, err := parseSignal(value)
	return key, dbus.MakeVariant(n), err
}

// settingsCommands are the settings verbs over dev.berth.Manager1.
func settingsCommands(o *options) []*cobra.Command {
	return []*cobra.Command{showSettingsCommand(o), setCommand(o), effectiveSettingsCommand(o)}
}
