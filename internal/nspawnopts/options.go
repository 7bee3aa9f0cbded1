package nspawnopts

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// option is one command-line option. The table is static data, so a
// berth-nspawn start builds no flag set: parsing walks the table.
type option struct {
	long  string
	short byte
	// target returns where r keeps the value: *string, *bool, *[]string
	// or taggedList.
	target func(r *raw) any
	// def is the value a string option starts with (shown by --help).
	def string
	// bare is the value of a string option given without one
	// (--volatile); empty: the value is required.
	bare  string
	usage string
	// key is the .nspawn key the option sets, recorded by commandLine;
	// for a list option, every value is recorded.
	key    string
	hidden bool
}

// options are berth-nspawn's options, sorted by long name (the order of
// --help).
var options = [...]option{
	{long: "ambient-capability", target: func(r *raw) any { return &r.capAmbient }, key: "AmbientCapability",
		usage: "raise these capabilities in the command's ambient set"},
	{long: "as-pid2", short: 'a', target: func(r *raw) any { return &r.asPID2 }, key: "ProcessTwo",
		usage: "run a stub init as PID 1 and the command as PID 2"},
	{long: "bind", target: func(r *raw) any { return taggedList{&r.binds, false} }, usage: "SRC[:DST[:OPTS]] bind mount"},
	{long: "bind-ro", target: func(r *raw) any { return taggedList{&r.binds, true} }, usage: "SRC[:DST[:OPTS]] read-only bind mount"},
	{long: "bind-user", target: func(r *raw) any { return &r.bindUser },
		usage: "bind a host user into the container (refused: not supported)"},
	{long: "boot", short: 'b', target: func(r *raw) any { return &r.boot }, key: "Boot", usage: "boot the image's init"},
	{long: "capability", target: func(r *raw) any { return &r.capAdd }, key: "Capability", usage: "keep these capabilities too"},
	{long: "chdir", target: func(r *raw) any { return &r.chdir }, key: "WorkingDirectory", usage: "working directory of the command"},
	{long: "console", target: func(r *raw) any { return &r.console }, usage: "interactive|read-only|passive|pipe|autopipe"},
	{long: "directory", short: 'D', target: func(r *raw) any { return &r.directory }, usage: "root directory for the container"},
	{long: "drop-capability", target: func(r *raw) any { return &r.capDrop }, key: "DropCapability", usage: "drop these capabilities"},
	{long: "ephemeral", short: 'x', target: func(r *raw) any { return &r.ephemeral }, key: "Ephemeral", usage: "run on a throw-away snapshot"},
	{long: "help", short: 'h', target: func(r *raw) any { return &r.help }, usage: "show this help"},
	{long: "hostname", target: func(r *raw) any { return &r.hostname }, key: "Hostname",
		usage: "container hostname (default: the machine name)"},
	{long: "image", short: 'i', target: func(r *raw) any { return &r.rawImage },
		usage: "raw disk image (a single file system) for the container"},
	{long: "inaccessible", target: func(r *raw) any { return &r.inaccessible }, key: "Inaccessible", usage: "make PATH inaccessible"},
	{long: "journal", short: 'j', target: func(r *raw) any { return &r.journalTryGuest }, usage: "same as --link-journal=try-guest"},
	{long: "keep-unit", target: func(r *raw) any { return &r.keepUnit }, usage: "stay in the caller's unit"},
	{long: "kill-signal", target: func(r *raw) any { return &r.killSignal }, key: "KillSignal",
		usage: "signal sent to PID 1 on SIGTERM/SIGINT"},
	{long: "link-journal", target: func(r *raw) any { return &r.linkJournal }, key: "LinkJournal", def: "auto", usage: "journal link mode"},
	{long: "machine", short: 'M', target: func(r *raw) any { return &r.machine }, usage: "machine name"},
	{long: "network-bridge", target: func(r *raw) any { return &r.net.bridge }, key: "Bridge",
		usage: "add the host side of the veth (vb-NAME) to this bridge"},
	{long: "network-interface", target: func(r *raw) any { return &r.net.interfaces }, key: "Interface",
		usage: "move this host link into the container"},
	{long: "network-namespace-path", target: func(r *raw) any { return &r.net.nsPath }, usage: "run in this network namespace"},
	{long: "network-veth", short: 'n', target: func(r *raw) any { return &r.net.veth }, key: "VirtualEthernet",
		usage: "veth pair ve-NAME on the host, host0 in the container"},
	{long: "network-veth-extra", target: func(r *raw) any { return &r.net.vethExtra }, key: "VirtualEthernetExtra",
		usage: "HOST[:CONTAINER] extra veth pair"},
	{long: "network-zone", target: func(r *raw) any { return &r.net.zone }, key: "Zone",
		usage: "add the veth to the bridge vz-ZONE, created on demand"},
	{long: "no-new-privileges", target: func(r *raw) any { return &r.noNewPrivs }, key: "NoNewPrivileges", def: "no",
		usage: "set no_new_privs for the command"},
	{long: "notify-ready", target: func(r *raw) any { return &r.notifyReady }, key: "NotifyReady", def: "no",
		usage: "wait for READY=1 from the container"},
	{long: "overlay", target: func(r *raw) any { return taggedList{&r.overlays, false} }, usage: "LOWER...:UPPER[:DST] overlay mount"},
	{long: "overlay-ro", target: func(r *raw) any { return taggedList{&r.overlays, true} },
		usage: "LOWER...:DST read-only overlay mount"},
	{long: "pipe", short: 'P', target: func(r *raw) any { return &r.pipe }, usage: "same as --console=pipe"},
	{long: "pivot-root", target: func(r *raw) any { return &r.pivotRoot }, key: "PivotRoot",
		usage: "NEW[:OLD]: make the image's directory NEW the root, the old root at OLD or gone"},
	{long: "port", short: 'p', target: func(r *raw) any { return &r.net.ports }, key: "Port",
		usage: "[tcp:|udp:]HOST[:CONTAINER] port forward"},
	{long: "private-network", target: func(r *raw) any { return &r.privateNetwork }, key: "Private",
		usage: "network namespace with only lo"},
	{long: "private-users", target: func(r *raw) any { return &r.users.users }, key: "PrivateUsers", bare: "yes",
		usage: "no|yes|pick|identity|SHIFT[:RANGE]: user namespace"},
	{long: "private-users-chown", target: func(r *raw) any { return &r.users.chown }, key: "PrivateUsersChown",
		usage: "same as --private-users-ownership=chown"},
	{long: "private-users-ownership", target: func(r *raw) any { return &r.users.ownership }, key: "PrivateUsersOwnership",
		usage: "off|chown|map|auto: image ownership"},
	{long: "private-users-pick", short: 'U', target: func(r *raw) any { return &r.users.flagU }, hidden: true,
		usage: "same as --private-users=pick --private-users-ownership=auto"},
	{long: "quiet", short: 'q', target: func(r *raw) any { return &r.quiet }, usage: "no informational messages"},
	{long: "read-only", target: func(r *raw) any { return &r.readOnly }, key: "ReadOnly", usage: "mount the root read-only"},
	{long: "register", target: func(r *raw) any { return &r.register }, def: RegisterYes, usage: "yes|no|auto: register with machine1"},
	{long: "resolv-conf", target: func(r *raw) any { return &r.resolvConf }, key: "ResolvConf", def: "auto", usage: "resolv.conf mode"},
	{long: "setenv", short: 'E', target: func(r *raw) any { return &r.env }, usage: "NAME[=VALUE] for the command's environment"},
	{long: "settings", target: func(r *raw) any { return &r.settings }, def: "yes",
		usage: "yes|no|override|trusted: use the .nspawn file"},
	{long: "template", target: func(r *raw) any { return &r.template },
		usage: "initialize an empty root directory from this template"},
	{long: "timezone", target: func(r *raw) any { return &r.timezone }, key: "Timezone", def: "auto", usage: "time zone mode"},
	{long: "tmpfs", target: func(r *raw) any { return &r.tmpfs }, key: "TemporaryFileSystem", usage: "PATH[:OPTS] tmpfs mount"},
	{long: "user", short: 'u', target: func(r *raw) any { return &r.user }, key: "User", usage: "run the command as this user"},
	{long: "uuid", target: func(r *raw) any { return &r.uuid }, key: "MachineID", usage: "container UUID"},
	{long: "volatile", target: func(r *raw) any { return &r.volatile }, key: "Volatile", def: VolatileNo, bare: VolatileYes,
		usage: "yes|state|overlay: volatile root"},
}

// given records which options a command line set, by index in options.
type given [len(options)]bool

// newRaw returns the option values before parsing: every default set.
func newRaw() *raw {
	r := &raw{}
	for _, o := range options {
		if o.def != "" {
			*o.target(r).(*string) = o.def
		}
	}
	return r
}

// parseArgs sets r's options from args as getopt_long does with a
// leading "+" (nspawn's way): options stop at "--" or at the first word
// that is not one, which starts the command. It returns the command.
func (r *raw) parseArgs(args []string, set *given) ([]string, error) {
	for i := 0; i < len(args); i++ {
		s := args[i]
		var err error
		switch {
		case len(s) < 2 || s[0] != '-':
			return args[i:], nil
		case s == "--":
			return args[i+1:], nil
		case s[1] == '-':
			i, err = r.parseLong(args, i, set)
		default:
			i, err = r.parseShorts(args, i, set)
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// parseLong parses the long option args[i] (with its value, maybe the
// next word) and returns the index of the last word it used.
func (r *raw) parseLong(args []string, i int, set *given) (int, error) {
	name := args[i][2:]
	if name == "" || name[0] == '-' || name[0] == '=' {
		return i, fmt.Errorf("bad flag syntax: %s", args[i])
	}
	name, value, hasValue := strings.Cut(name, "=")
	n := lookupLong(name)
	if n < 0 {
		return i, fmt.Errorf("unknown flag: --%s", name)
	}
	switch bare := options[n].bareValue(r); {
	case hasValue:
	case bare != "":
		value = bare
	case i+1 < len(args):
		i++
		value = args[i]
	default:
		return i, fmt.Errorf("flag needs an argument: --%s", name)
	}
	return i, r.set(n, value, set)
}

// parseShorts parses the cluster of short options args[i] ("-qb",
// "-Dpath", "-D path", "-E=A=1") and returns the index of the last word
// it used.
func (r *raw) parseShorts(args []string, i int, set *given) (int, error) {
	for shorts := args[i][1:]; shorts != ""; {
		n := lookupShort(shorts[0])
		if n < 0 {
			return i, fmt.Errorf("unknown shorthand flag: %q in -%s", shorts[0], shorts)
		}
		var value string
		switch bare := options[n].bareValue(r); {
		case len(shorts) > 2 && shorts[1] == '=':
			value, shorts = shorts[2:], ""
		case bare != "":
			value, shorts = bare, shorts[1:]
		case len(shorts) > 1:
			value, shorts = shorts[1:], ""
		case i+1 < len(args):
			i++
			value, shorts = args[i], ""
		default:
			return i, fmt.Errorf("flag needs an argument: %q in -%s", shorts[0], shorts)
		}
		if err := r.set(n, value, set); err != nil {
			return i, err
		}
	}
	return i, nil
}

// bareValue is the value of o given without one: "true" for a switch.
func (o *option) bareValue(r *raw) string {
	if _, ok := o.target(r).(*bool); ok {
		return "true"
	}
	return o.bare
}

// set stores the value of options[n] and records that it was given.
func (r *raw) set(n int, value string, set *given) error {
	switch t := options[n].target(r).(type) {
	case *string:
		*t = value
	case *[]string:
		*t = append(*t, value)
	case taggedList:
		*t.list = append(*t.list, tagged{value, t.ro})
	case *bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("invalid argument %q for %q flag: must be true or false", value, options[n].names())
		}
		*t = b
	}
	set[n] = true
	return nil
}

// names is how error messages name o: "-b, --boot" or "--chdir".
func (o *option) names() string {
	if o.short != 0 {
		return "-" + string(o.short) + ", --" + o.long
	}
	return "--" + o.long
}

func lookupLong(name string) int {
	for i := range options {
		if options[i].long == name {
			return i
		}
	}
	return -1
}

func lookupShort(c byte) int {
	for i := range options {
		if options[i].short == c {
			return i
		}
	}
	return -1
}

// value is o's value in r as commandLine records it.
func (o *option) value(r *raw) string {
	switch t := o.target(r).(type) {
	case *string:
		return *t
	case *bool:
		return strconv.FormatBool(*t)
	}
	return ""
}

// list is the values of a list option in r, in command-line order.
func (o *option) list(r *raw) []string {
	if t, ok := o.target(r).(*[]string); ok {
		return *t
	}
	return nil
}

// writeUsage writes the option list of --help to w: one line per option,
// the descriptions aligned (the layout of spf13/pflag, which berth-nspawn
// used before).
func writeUsage(w io.Writer) error {
	var r raw
	heads := make([]string, 0, len(options))
	width := 0
	for i := range options {
		o := &options[i]
		if o.hidden {
			heads = append(heads, "")
			continue
		}
		h := o.usageHead(&r)
		heads = append(heads, h)
		width = max(width, len(h))
	}
	var b strings.Builder
	for i, h := range heads {
		if h == "" {
			continue
		}
		o := &options[i]
		b.WriteString(h + strings.Repeat(" ", width-len(h)+3) + o.usage)
		if o.def != "" {
			fmt.Fprintf(&b, " (default %q)", o.def)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// usageHead is o's part of its --help line before the description:
// "  -D, --directory string", "      --volatile string[="yes"]".
func (o *option) usageHead(r *raw) string {
	h := "      --" + o.long
	if o.short != 0 {
		h = "  -" + string(o.short) + ", --" + o.long
	}
	switch o.target(r).(type) {
	case *bool:
		return h + "[=true|false]"
	case *string:
		h += " string"
	default:
		h += " stringArray"
	}
	if o.bare != "" {
		h += `[="` + o.bare + `"]`
	}
	return h
}
