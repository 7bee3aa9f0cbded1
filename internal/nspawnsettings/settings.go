package nspawnsettings

import "strings"

// Settings holds every setting of a .nspawn file, one Field per key. Each
// field is named after its key and means what systemd.nspawn(5) says the
// key means; Keys lists them, Entries shows them. The same type carries
// the options given on the spawner's command line (see
// SetFromCommandLine), so a merge is field by field.
type Settings struct {
	// [Exec]
	Boot              Field[bool]
	Ephemeral         Field[bool]
	ProcessTwo        Field[bool]
	Parameters        Field[[]string]
	Environment       Field[[]string]
	User              Field[string]
	WorkingDirectory  Field[string]
	PivotRoot         Field[PivotRoot]
	Capability        Field[Capabilities]
	DropCapability    Field[Capabilities]
	AmbientCapability Field[Capabilities]
	KillSignal        Field[Signal]
	Personality       Field[string]
	MachineID         Field[MachineID]
	PrivateUsers      Field[PrivateUsers]
	NotifyReady       Field[bool]
	SystemCallFilter  Field[SyscallFilter]
	// Limits holds LimitCPU= ... LimitRTTIME=, indexed by Rlimit* constant.
	Limits          [RlimitCount]Field[Rlimit]
	Hostname        Field[string]
	NoNewPrivileges Field[bool]
	OOMScoreAdjust  Field[int]
	CPUAffinity     Field[CPUSet]
	ResolvConf      Field[ResolvConfMode]
	Timezone        Field[TimezoneMode]
	LinkJournal     Field[LinkJournalMode]
	SuppressSync    Field[bool]

	// [Files]
	ReadOnly              Field[bool]
	Volatile              Field[VolatileMode]
	Bind                  Field[[]BindMount]
	BindReadOnly          Field[[]BindMount]
	TemporaryFileSystem   Field[[]TmpFS]
	Inaccessible          Field[[]string]
	Overlay               Field[[]OverlayMount]
	OverlayReadOnly       Field[[]OverlayMount]
	PrivateUsersChown     Field[bool]
	PrivateUsersOwnership Field[OwnershipMode]
	BindUser              Field[[]string]

	// [Network]
	Private              Field[bool]
	VirtualEthernet      Field[bool]
	VirtualEthernetExtra Field[[]LinkPair]
	Interface            Field[[]LinkPair]
	MACVLAN              Field[[]LinkPair]
	IPVLAN               Field[[]LinkPair]
	Bridge               Field[string]
	Zone                 Field[string]
	Port                 Field[[]PortForward]
}

// Sections are the .nspawn sections, in file order.
var Sections = []string{"Exec", "Files", "Network"}

// Keys returns every key name in table order ("Boot", ..., "Port"), each
// once. Entries lists them in the same order.
func Keys() []string {
	out := make([]string, len(keyTable()))
	for i, k := range keyTable() {
		out[i] = k.name
	}
	return out
}

// SetFromCommandLine assigns one setting the way the spawner's command-line
// option does, marking it Set with Origin CommandLine. key is the .nspawn
// key the option corresponds to (--boot is "Boot", --bind is "Bind",
// --private-users is "PrivateUsers", --network-veth is "VirtualEthernet",
// ...); value is in the key's file syntax, except that PrivateUsers never
// reads digits as booleans ("0" is a shift of 0, as --private-users=0).
// List keys append, as repeated options do.
func (s *Settings) SetFromCommandLine(key, value string) error {
	k := keyMap()[key]
	if k == nil {
		return invalid("unknown setting %q", key)
	}
	if err := k.assign(s, value, CommandLine); err != nil {
		return &ParseError{File: "command line", Key: key, Err: err}
	}
	return nil
}

// Format writes the keys set in s as a .nspawn file that Parse reads back
// to the same values (the origins are those of the new file). Values that
// did not come from Parse (the command line) are written as given; one
// ending in a backslash, which the file syntax reads as a continuation,
// cannot be represented.
func (s *Settings) Format() []byte {
	var b strings.Builder
	for _, sec := range Sections {
		header := false
		for _, k := range keyTable() {
			if k.section != sec || !k.isSet(s) {
				continue
			}
			if !header {
				if b.Len() > 0 {
					b.WriteByte('\n')
				}
				b.WriteString("[" + sec + "]\n")
				header = true
			}
			for _, l := range k.lines(s) {
				b.WriteString(k.name + "=" + l + "\n")
			}
		}
	}
	return []byte(b.String())
}

// Entry is one setting as shown to users: its key, value and provenance.
type Entry struct {
	// Section is "Exec", "Files" or "Network".
	Section string
	// Key is the .nspawn key.
	Key string
	// Value is the value in .nspawn syntax; the default's form when unset.
	Value string
	// Origin tells where the value came from.
	Origin Origin
}

// Entries returns every key of s with its value and origin, in table order.
func (s *Settings) Entries() []Entry {
	out := make([]Entry, len(keyTable()))
	for i, k := range keyTable() {
		out[i] = Entry{Section: k.section, Key: k.name, Value: k.format(s), Origin: k.origin(s)}
	}
	return out
}

// Lookup returns the entry of one key.
func (s *Settings) Lookup(key string) (Entry, bool) {
	k := keyMap()[key]
	if k == nil {
		return Entry{}, false
	}
	return Entry{Section: k.section, Key: k.name, Value: k.format(s), Origin: k.origin(s)}, true
}
