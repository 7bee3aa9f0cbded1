package nspawnsettings

import "strings"

// Mode is the --settings= mode: how a .nspawn file and the command line
// combine.
type Mode int

// The --settings= modes, with nspawn's meanings.
const (
	// ModeYes (the default): the file is used, and an option given on the
	// command line masks the file's keys of the same group.
	ModeYes Mode = iota
	// ModeNo: the file is ignored.
	ModeNo
	// ModeOverride: the file is used and wins over the command line for
	// every key it sets (the managed unit's mode).
	ModeOverride
	// ModeTrusted: like ModeYes, but the file is trusted wherever it was
	// found.
	ModeTrusted
)

var modeNames = []string{"yes", "no", "override", "trusted"}

// String returns the mode's keyword.
func (m Mode) String() string { return modeNames[m] }

// ParseMode parses a --settings= value: yes, no, override, trusted, or a
// boolean.
func ParseMode(v string) (Mode, error) {
	if m, err := parseEnum[Mode](v, modeNames); err == nil {
		return m, nil
	}
	b, err := parseBool(v)
	if err != nil {
		return 0, invalid("--settings=%s: not yes, no, override or trusted", v)
	}
	if b {
		return ModeYes, nil
	}
	return ModeNo, nil
}

// File is a .nspawn file found and parsed for a machine.
type File struct {
	// Path is where the file was found (the path in the search directory,
	// not a symlink's target).
	Path string
	// Trusted is true when the directory it was found in is trusted.
	Trusted bool
	// Settings is what the file says, every key as written.
	Settings *Settings
	// Warnings are the parse warnings.
	Warnings []Warning
}

// Effective is the result of merging the command line with a file: every
// setting's value and where it came from.
type Effective struct {
	// Settings holds the merged values; each Field's Origin is its
	// provenance (default, file path and line, or command line).
	Settings Settings
	// Mode is the --settings= mode used.
	Mode Mode
	// File is the file that was consulted, nil if none or ModeNo.
	File *File
	// Warnings are the file's parse warnings plus one per privileged
	// setting dropped because the file is untrusted.
	Warnings []Warning
}

// Entries returns every setting with its value and provenance.
func (e *Effective) Entries() []Entry { return e.Settings.Entries() }

// Merge combines the command line (cmd: the keys the spawner's options set,
// see Settings.SetFromCommandLine) with file (nil if none was found) the
// way nspawn's merge_settings does:
//
//   - ModeNo, or no file: the command line alone.
//   - An untrusted file (and not ModeTrusted): privileged keys are dropped
//     first, each with a warning.
//   - ModeYes and ModeTrusted: a file key applies only if the command line
//     set no key of the same group (Keys sharing a group: Boot, ProcessTwo
//     and Parameters; the three Capability keys; the PrivateUsers keys;
//     the custom mount keys; every [Network] key but Port).
//   - ModeOverride: every key the file sets wins over the command line.
//   - A file's Parameters= apply only if it also sets Boot= or
//     ProcessTwo= (nspawn ties them to the start mode); otherwise they
//     are dropped with a warning.
func Merge(cmd *Settings, file *File, mode Mode) *Effective {
	e := &Effective{Mode: mode}
	for _, k := range keyTable() {
		k.copy(&e.Settings, cmd)
	}
	if mode == ModeNo || file == nil {
		return e
	}
	e.File = file
	e.Warnings = append(e.Warnings, file.Warnings...)
	fs := file.Settings
	if !file.Trusted && mode != ModeTrusted {
		var dropped []Warning
		fs, dropped = Untrusted(fs)
		e.Warnings = append(e.Warnings, dropped...)
	}
	masked := map[group]bool{}
	if mode != ModeOverride {
		for _, k := range keyTable() {
			if k.isSet(cmd) {
				masked[k.group] = true
			}
		}
	}
	// As in nspawn, a file's Parameters= only come with its start mode.
	if fs.Parameters.Set && !fs.Boot.Set && !fs.ProcessTwo.Set {
		o := fs.Parameters.Origin
		e.Warnings = append(e.Warnings, Warning{File: o.File, Line: o.Line, Key: "Parameters",
			Msg: "ignoring Parameters=: the file sets neither Boot= nor ProcessTwo="})
		masked[groupStartMode] = true
	}
	for _, k := range keyTable() {
		if k.isSet(fs) && !masked[k.group] {
			k.copy(&e.Settings, fs)
		}
	}
	return e
}

// String renders the entries as "Key=Value  # origin" lines, for logs.
func (e *Effective) String() string {
	var b strings.Builder
	for _, en := range e.Entries() {
		b.WriteString(en.Key + "=" + en.Value + "  # " + en.Origin.String() + "\n")
	}
	return b.String()
}
