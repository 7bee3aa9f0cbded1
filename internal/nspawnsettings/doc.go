// Package nspawnsettings reads systemd-nspawn's .nspawn settings files,
// decides which of their settings may be trusted, and merges them with the
// spawner's command line into an effective configuration whose every value
// knows where it came from.
//
// # Format
//
// Parse accepts the complete v252 format: sections [Exec], [Files] and
// [Network], every key of nspawn's table (see Keys), and nspawn's value
// syntax: booleans, whitespace-separated lists with quoting (an empty
// assignment resets a list), Bind=SRC[:DST[:OPTS]], Overlay=, Port=,
// capabilities or "all", signal names, soft:hard resource limits,
// CPU ranges, "~" deny lists, and the mode keywords. Unknown sections and
// keys are warnings with file and line. Malformed values are errors
// (*ParseError, with file, line and key). Files over MaxFileSize, lines over
// MaxLineSize and lists over MaxListEntries are errors wrapping ErrTooLarge.
// Parse never panics, and Format writes settings back into a file that
// parses to the same values (FuzzParse checks both).
//
// # Lookup and trust
//
// Find looks for NAME.nspawn in paths.SettingsTrusted (/etc/systemd/nspawn,
// /run/systemd/nspawn: trusted, first hit wins, search stops), then in the
// directory holding the image (untrusted). Trust is the directory's, never a
// symlink target's. The file is read once, from one descriptor.
//
// Untrusted applies the allow-list of keys an untrusted file may set; every
// other key (and every key added in the future) is privileged and is
// dropped with a Warning naming the key and the file. Capability= is
// allowed only when empty, SystemCallFilter= only as a "~" deny list.
//
// # Precedence and provenance
//
// Every setting is a Field: Value, Set, and Origin (default, FILE:LINE, or
// command line). Merge(cmd, file, mode) implements --settings=:
//
//	yes       command-line options mask the file's keys of the same group
//	override  every key the file sets wins over the command line
//	trusted   like yes, and the file is trusted wherever it was found
//	no        the file is ignored
//
// PrivateUsers= in a file reads booleans first ("0" is no, "1" is yes); on
// the command line digits are never booleans ("0" is shift 0). In a file,
// PrivateUsers=pick without an ownership setting means
// PrivateUsersOwnership=chown.
//
// # Spawner integration
//
// The spawner fills a Settings value from its options, one call per option
// given, with the .nspawn key and the option's value:
//
//	var cmd nspawnsettings.Settings
//	cmd.SetFromCommandLine("Boot", "yes")           // -b
//	cmd.SetFromCommandLine("Bind", "/src:/dst")     // --bind=/src:/dst
//	cmd.SetFromCommandLine("PrivateUsers", "pick")  // -U
//	mode, _ := nspawnsettings.ParseMode(settingsFlag)
//	eff, err := nspawnsettings.Resolve(paths, machine, imageDir, &cmd, mode)
//	// err: a malformed file; refuse to start.
//	// eff.Settings: the values to apply; eff.Warnings: log each one.
//	// eff.Entries(): every key with value and origin, for the daemon.
//
// Before applying, CheckSupported refuses what berth-nspawn cannot do,
// and Process collects the settings that act on the payload's process
// (resource limits, personality, OOM score, CPU affinity, system call
// filter, SuppressSync=).
//
// Set fields of cmd are "given on the command line"; unset fields are
// defaults. Options without a key of their own mark the key whose group
// they belong to (for example --network-namespace-path marks "Private").
// The daemon shows Entries() as the machine's effective settings.
//
// Reading files needs read access to the settings directories and the
// image's directory (root on a real host); everything else is pure.
package nspawnsettings
