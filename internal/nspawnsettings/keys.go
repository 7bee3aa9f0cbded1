package nspawnsettings

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/berth-dev/berth/internal/names"
)

// group is a set of keys one command-line option family controls, as
// nspawn's SETTING_* bits: an option given on the command line masks every
// file key of its group (with --settings=yes or trusted).
type group int

const (
	groupStartMode group = iota // Boot, ProcessTwo, Parameters
	groupEphemeral
	groupEnvironment
	groupUser
	groupWorkingDirectory
	groupPivotRoot
	groupCapability // Capability, DropCapability, AmbientCapability
	groupKillSignal
	groupPersonality
	groupMachineID
	groupUserns // PrivateUsers, PrivateUsersChown, PrivateUsersOwnership
	groupNotifyReady
	groupSyscallFilter
	groupHostname
	groupNoNewPrivileges
	groupOOMScoreAdjust
	groupCPUAffinity
	groupResolvConf
	groupTimezone
	groupLinkJournal
	groupSuppressSync
	groupReadOnly
	groupVolatile
	groupCustomMounts // Bind, BindReadOnly, TemporaryFileSystem, Inaccessible, Overlay*
	groupBindUser
	groupNetwork // every [Network] key but Port
	groupExposePorts
	groupRlimitFirst // + resource number
)

// key describes one .nspawn key: where it lives, how it parses, formats and
// copies, and which group masks it. Keys not in untrustedAllowed are
// privileged.
type key struct {
	section, name string
	group         group
	// field reaches the key's field (def); the ...Fn functions, when set,
	// replace its parser, formatter or line writer for keys that need
	// their own.
	field    fieldOps
	assignFn func(s *Settings, v string, o Origin) error
	formatFn func(s *Settings) string
	linesFn  func(s *Settings) []string // values of the lines Format writes
}

// fieldOps are the operations on one field of Settings.
type fieldOps interface {
	assign(s *Settings, v string, o Origin) error
	format(s *Settings) string
	origin(s *Settings) Origin
	isSet(s *Settings) bool
	copy(dst, src *Settings)
	clear(s *Settings)
}

func (k *key) assign(s *Settings, v string, o Origin) error {
	if k.assignFn != nil {
		return k.assignFn(s, v, o)
	}
	return k.field.assign(s, v, o)
}

func (k *key) format(s *Settings) string {
	if k.formatFn != nil {
		return k.formatFn(s)
	}
	return k.field.format(s)
}

// lines are the values of the lines Format writes for k.
func (k *key) lines(s *Settings) []string {
	if k.linesFn != nil {
		return k.linesFn(s)
	}
	return []string{k.field.format(s)}
}

func (k *key) origin(s *Settings) Origin { return k.field.origin(s) }
func (k *key) isSet(s *Settings) bool    { return k.field.isSet(s) }
func (k *key) copy(dst, src *Settings)   { k.field.copy(dst, src) }
func (k *key) clear(s *Settings)         { k.field.clear(s) }

// errReset is returned by a parser whose value resets the setting to its
// default although it is not empty (SystemCallFilter=~).
var errReset = errors.New("reset")

// field is a key's field of type T: how to reach, parse and format it.
// One value per key rather than a closure per operation: the table is
// built at the first settings lookup of every spawner start.
type field[T any] struct {
	get   func(*Settings) *Field[T]
	parse func(old T, v string) (T, error)
	str   func(T) string
}

func (f *field[T]) assign(s *Settings, v string, o Origin) error {
	p := f.get(s)
	nv, err := f.parse(p.Value, v)
	switch {
	case errors.Is(err, errReset):
		*p = Field[T]{}
	case err != nil:
		return err
	case strings.TrimSpace(v) == "":
		*p = Field[T]{} // an empty assignment resets to the default
	default:
		*p = Field[T]{Value: nv, Set: true, Origin: o}
	}
	return nil
}

func (f *field[T]) format(s *Settings) string { return f.str(f.get(s).Value) }
func (f *field[T]) origin(s *Settings) Origin { return f.get(s).Origin }
func (f *field[T]) isSet(s *Settings) bool    { return f.get(s).Set }
func (f *field[T]) clear(s *Settings)         { *f.get(s) = Field[T]{} }

func (f *field[T]) copy(dst, src *Settings) {
	d := f.get(dst)
	*d = *f.get(src)
	clipSlice(&d.Value)
}

// def builds a key whose parser replaces (or, for lists, extends) the
// field's value.
func def[T any](sec, name string, g group, get func(*Settings) *Field[T],
	parse func(old T, v string) (T, error), format func(T) string) *key {
	return &key{section: sec, name: name, group: g, field: &field[T]{get, parse, format}}
}

// perLine makes k write one line per list element, as its parser reads
// one element per line.
func perLine[T any](k *key, get func(*Settings) *Field[[]T], str func(T) string) *key {
	k.linesFn = func(s *Settings) []string {
		out := make([]string, len(get(s).Value))
		for i, v := range get(s).Value {
			out[i] = str(v)
		}
		return out
	}
	return k
}

// clipSlice limits a slice's capacity to its length, so appending to a
// copied list never writes into storage another Settings value shares.
func clipSlice[T any](v *T) {
	if rv := reflect.ValueOf(v).Elem(); rv.Kind() == reflect.Slice {
		rv.Set(rv.Slice3(0, rv.Len(), rv.Len()))
	}
}

// scalar adapts a parser that ignores the old value.
func scalar[T any](p func(string) (T, error)) func(T, string) (T, error) {
	return func(_ T, v string) (T, error) { return p(v) }
}

// entries adapts a one-entry-per-line parser into an appending list parser.
func entries[T any](p func(string) (T, error)) func([]T, string) ([]T, error) {
	return func(old []T, v string) ([]T, error) {
		if v == "" {
			return nil, nil
		}
		e, err := p(v)
		if err != nil {
			return nil, err
		}
		return appendList(old, v, []T{e})
	}
}

// words adapts a per-word parser into an appending list parser.
func words[T any](p func(string) (T, error)) func([]T, string) ([]T, error) {
	return func(old []T, v string) ([]T, error) {
		ws, err := splitWords(v)
		if err != nil {
			return nil, err
		}
		out := make([]T, 0, len(ws))
		for _, w := range ws {
			e, err := p(w)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return appendList(old, v, out)
	}
}

func str(s string) string            { return s }
func ident(s string) (string, error) { return s, nil }
func boolKey(name string, g group, get func(*Settings) *Field[bool]) *key {
	return def("", name, g, get, scalar(parseBool), formatBool)
}
func enumKey[T interface {
	~int
	String() string
}](name string, g group, names []string, get func(*Settings) *Field[T]) *key {
	return def("", name, g, get, scalar(func(v string) (T, error) { return parseEnum[T](v, names) }), T.String)
}
func stringer[T interface{ String() string }](v T) string { return v.String() }

// execKeys are the [Exec] keys.
func execKeys() []*key {
	ks := []*key{
		boolKey("Boot", groupStartMode, func(s *Settings) *Field[bool] { return &s.Boot }),
		boolKey("Ephemeral", groupEphemeral, func(s *Settings) *Field[bool] { return &s.Ephemeral }),
		boolKey("ProcessTwo", groupStartMode, func(s *Settings) *Field[bool] { return &s.ProcessTwo }),
		def("", "Parameters", groupStartMode, func(s *Settings) *Field[[]string] { return &s.Parameters }, words(ident), joinWords),
		def("", "Environment", groupEnvironment, func(s *Settings) *Field[[]string] { return &s.Environment }, parseEnvironment, joinWords),
		def("", "User", groupUser, func(s *Settings) *Field[string] { return &s.User }, scalar(emptyOr(parseUserName)), str),
		def("", "WorkingDirectory", groupWorkingDirectory, func(s *Settings) *Field[string] { return &s.WorkingDirectory }, scalar(emptyOr(pathValue)), str),
		def("", "PivotRoot", groupPivotRoot, func(s *Settings) *Field[PivotRoot] { return &s.PivotRoot }, scalar(ParsePivotRoot), stringer[PivotRoot]),
		def("", "Capability", groupCapability, func(s *Settings) *Field[Capabilities] { return &s.Capability }, parseCapabilities, stringer[Capabilities]),
		def("", "DropCapability", groupCapability, func(s *Settings) *Field[Capabilities] { return &s.DropCapability }, parseCapabilities, stringer[Capabilities]),
		def("", "AmbientCapability", groupCapability, func(s *Settings) *Field[Capabilities] { return &s.AmbientCapability }, parseCapabilities, stringer[Capabilities]),
		def("", "KillSignal", groupKillSignal, func(s *Settings) *Field[Signal] { return &s.KillSignal }, scalar(parseSignal), stringer[Signal]),
		def("", "Personality", groupPersonality, func(s *Settings) *Field[string] { return &s.Personality }, scalar(parsePersonality), str),
		def("", "MachineID", groupMachineID, func(s *Settings) *Field[MachineID] { return &s.MachineID }, scalar(emptyOr(parseMachineID)), stringer[MachineID]),
		def("", "PrivateUsers", groupUserns, func(s *Settings) *Field[PrivateUsers] { return &s.PrivateUsers }, scalar(parsePrivateUsersFile), stringer[PrivateUsers]),
		boolKey("NotifyReady", groupNotifyReady, func(s *Settings) *Field[bool] { return &s.NotifyReady }),
		syscallFilterKey(),
	}
	for r := range RlimitCount {
		ks = append(ks, rlimitKey(r))
	}
	return append(ks,
		def("", "Hostname", groupHostname, func(s *Settings) *Field[string] { return &s.Hostname }, scalar(emptyOr(parseHostname)), str),
		boolKey("NoNewPrivileges", groupNoNewPrivileges, func(s *Settings) *Field[bool] { return &s.NoNewPrivileges }),
		def("", "OOMScoreAdjust", groupOOMScoreAdjust, func(s *Settings) *Field[int] { return &s.OOMScoreAdjust }, scalar(parseOOMScoreAdjust), itoa),
		def("", "CPUAffinity", groupCPUAffinity, func(s *Settings) *Field[CPUSet] { return &s.CPUAffinity }, parseCPUSet, stringer[CPUSet]),
		enumKey("ResolvConf", groupResolvConf, resolvConfNames, func(s *Settings) *Field[ResolvConfMode] { return &s.ResolvConf }),
		enumKey("Timezone", groupTimezone, timezoneNames, func(s *Settings) *Field[TimezoneMode] { return &s.Timezone }),
		enumKey("LinkJournal", groupLinkJournal, linkJournalNames, func(s *Settings) *Field[LinkJournalMode] { return &s.LinkJournal }),
		boolKey("SuppressSync", groupSuppressSync, func(s *Settings) *Field[bool] { return &s.SuppressSync }),
	)
}

// filesKeys are the [Files] keys.
func filesKeys() []*key {
	return []*key{
		boolKey("ReadOnly", groupReadOnly, func(s *Settings) *Field[bool] { return &s.ReadOnly }),
		def("", "Volatile", groupVolatile, func(s *Settings) *Field[VolatileMode] { return &s.Volatile }, scalar(parseVolatile), VolatileMode.String),
		perLine(def("", "Bind", groupCustomMounts, bindOf, entries(parseBind), formatList[BindMount]), bindOf, BindMount.String),
		perLine(def("", "BindReadOnly", groupCustomMounts, bindROOf, entries(parseBind), formatList[BindMount]), bindROOf, BindMount.String),
		perLine(def("", "TemporaryFileSystem", groupCustomMounts, tmpfsOf, entries(parseTmpFS), formatList[TmpFS]), tmpfsOf, TmpFS.String),
		perLine(def("", "Inaccessible", groupCustomMounts, inaccessibleOf, entries(pathValue), joinWords), inaccessibleOf, str),
		perLine(def("", "Overlay", groupCustomMounts, overlayOf, entries(parseOverlay), formatList[OverlayMount]), overlayOf, OverlayMount.String),
		perLine(def("", "OverlayReadOnly", groupCustomMounts, overlayROOf, entries(parseOverlay), formatList[OverlayMount]), overlayROOf, OverlayMount.String),
		boolKey("PrivateUsersChown", groupUserns, func(s *Settings) *Field[bool] { return &s.PrivateUsersChown }),
		enumKey("PrivateUsersOwnership", groupUserns, ownershipNames, func(s *Settings) *Field[OwnershipMode] { return &s.PrivateUsersOwnership }),
		def("", "BindUser", groupBindUser, func(s *Settings) *Field[[]string] { return &s.BindUser }, parseUserNames, joinWords),
	}
}

// networkKeys are the [Network] keys.
func networkKeys() []*key {
	pairs := func(name string, get func(*Settings) *Field[[]LinkPair]) *key {
		return def("", name, groupNetwork, get, func(old []LinkPair, v string) ([]LinkPair, error) {
			l, err := parseLinkPairs(v)
			if err != nil {
				return nil, err
			}
			return appendList(old, v, l)
		}, formatList[LinkPair])
	}
	return []*key{
		boolKey("Private", groupNetwork, func(s *Settings) *Field[bool] { return &s.Private }),
		boolKey("VirtualEthernet", groupNetwork, func(s *Settings) *Field[bool] { return &s.VirtualEthernet }),
		perLine(def("", "VirtualEthernetExtra", groupNetwork, vethExtraOf, entries(parseLinkPair), formatList[LinkPair]), vethExtraOf, LinkPair.String),
		pairs("Interface", func(s *Settings) *Field[[]LinkPair] { return &s.Interface }),
		pairs("MACVLAN", func(s *Settings) *Field[[]LinkPair] { return &s.MACVLAN }),
		pairs("IPVLAN", func(s *Settings) *Field[[]LinkPair] { return &s.IPVLAN }),
		def("", "Bridge", groupNetwork, func(s *Settings) *Field[string] { return &s.Bridge }, scalar(parseIfname), str),
		def("", "Zone", groupNetwork, func(s *Settings) *Field[string] { return &s.Zone }, scalar(parseZone), str),
		perLine(def("", "Port", groupExposePorts, portOf, entries(parsePort), formatList[PortForward]), portOf, PortForward.String),
	}
}

// Accessors of the list fields written one element per line.
func bindOf(s *Settings) *Field[[]BindMount]         { return &s.Bind }
func bindROOf(s *Settings) *Field[[]BindMount]       { return &s.BindReadOnly }
func tmpfsOf(s *Settings) *Field[[]TmpFS]            { return &s.TemporaryFileSystem }
func inaccessibleOf(s *Settings) *Field[[]string]    { return &s.Inaccessible }
func overlayOf(s *Settings) *Field[[]OverlayMount]   { return &s.Overlay }
func overlayROOf(s *Settings) *Field[[]OverlayMount] { return &s.OverlayReadOnly }
func vethExtraOf(s *Settings) *Field[[]LinkPair]     { return &s.VirtualEthernetExtra }
func portOf(s *Settings) *Field[[]PortForward]       { return &s.Port }

// syscallFilterKey builds SystemCallFilter=, written as an allow line and
// a "~" deny line.
func syscallFilterKey() *key {
	k := def("", "SystemCallFilter", groupSyscallFilter, func(s *Settings) *Field[SyscallFilter] { return &s.SystemCallFilter },
		parseSyscallFilter, stringer[SyscallFilter])
	k.linesFn = func(s *Settings) []string {
		var out []string
		if f := s.SystemCallFilter.Value; len(f.Allow) > 0 {
			out = append(out, strings.Join(f.Allow, " "))
		}
		if f := s.SystemCallFilter.Value; len(f.Deny) > 0 {
			out = append(out, "~"+strings.Join(f.Deny, " "))
		}
		return out
	}
	return k
}

// keys builds the key table once, on first use: a program that links the
// package without reading settings (berth-nspawn's second stage) does
// not pay for it at start.
var keys = sync.OnceValues(buildKeys)

// keyTable lists every key in file order.
func keyTable() []*key {
	table, _ := keys()
	return table
}

// keyMap indexes the keys by name.
func keyMap() map[string]*key {
	_, byName := keys()
	return byName
}

func buildKeys() ([]*key, map[string]*key) {
	var table []*key
	for _, sec := range []struct {
		name string
		keys []*key
	}{{"Exec", execKeys()}, {"Files", filesKeys()}, {"Network", networkKeys()}} {
		for _, k := range sec.keys {
			k.section = sec.name
			table = append(table, k)
		}
	}
	byName := make(map[string]*key, len(table))
	for _, k := range table {
		byName[k.name] = k
	}
	privateUsersCommandLine(byName["PrivateUsers"])
	return table, byName
}

// privateUsersCommandLine makes PrivateUsers parse command-line values with
// --private-users= rules.
func privateUsersCommandLine(k *key) {
	k.assignFn = func(s *Settings, v string, o Origin) error {
		if o.Kind != FromCommandLine {
			return k.field.assign(s, v, o)
		}
		p, err := parsePrivateUsersCommandLine(v)
		if err != nil {
			return err
		}
		s.PrivateUsers = Field[PrivateUsers]{Value: p, Set: true, Origin: o}
		return nil
	}
}

// emptyOr makes an empty value parse to T's zero value (unset).
func emptyOr[T any](p func(string) (T, error)) func(string) (T, error) {
	return func(v string) (T, error) {
		var zero T
		if v == "" {
			return zero, nil
		}
		return p(v)
	}
}

// pathValue checks an absolute path value.
func pathValue(v string) (string, error) { return v, validPath(v) }

// parseHostname checks Hostname= with the hostname rules (a trailing dot
// is allowed and dropped).
func parseHostname(v string) (string, error) {
	h := strings.TrimSuffix(v, ".")
	if err := names.ValidMachine(h); err != nil {
		return "", invalid("hostname %q", v)
	}
	return h, nil
}

func itoa(n int) string { return strconv.Itoa(n) }

// rlimitKey builds LimitXXX= for resource r; unset formats as "".
func rlimitKey(r int) *key {
	k := def("", "Limit"+rlimitNames[r], groupRlimitFirst+group(r),
		func(s *Settings) *Field[Rlimit] { return &s.Limits[r] },
		scalar(emptyOr(func(v string) (Rlimit, error) { return parseRlimit(r, v) })), Rlimit.String)
	k.formatFn = func(s *Settings) string {
		if !s.Limits[r].Set {
			return ""
		}
		return s.Limits[r].Value.String()
	}
	return k
}
