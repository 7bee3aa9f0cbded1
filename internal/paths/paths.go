package paths

import "path/filepath"

// Paths names the host directories berth uses. Every field is an absolute
// path. The zero value is not useful; use Default or Under.
type Paths struct {
	// Root is the prefix every other path was built under ("/" on a real host).
	Root string
	// ImageDirs are the image search directories, first hit wins.
	ImageDirs []string
	// Pool is where new images (clones) are created: /var/lib/machines.
	Pool string
	// SettingsTrusted are the trusted .nspawn directories, in search order.
	SettingsTrusted []string
	// Run is berth's runtime state directory (machines, locks, leases of the boot).
	Run string
	// State is berth's persistent state directory (UID ranges, leases, limits).
	State string
	// UnitDir is the systemd unit directory enable/disable writes links into.
	UnitDir string
	// RuntimeUnitDir is where transient and generated units live.
	RuntimeUnitDir string
	// Log is where the embedded supervisor writes one log per machine.
	Log string
	// Journal is the host's journal directory, where --link-journal links
	// or binds a guest's /var/log/journal/MACHINE-ID.
	Journal string
	// Cgroup is the cgroup file system root.
	Cgroup string
}

// Default returns the paths of a real host.
func Default() Paths {
	// Spelled out rather than Under("/"): every berth-nspawn start asks
	// for it, and the joins and cleans cost more than the literal.
	return Paths{
		Root: "/",
		ImageDirs: []string{
			"/etc/machines", "/run/machines", "/var/lib/machines",
			"/var/lib/container", "/usr/local/lib/machines", "/usr/lib/machines",
		},
		Pool:            "/var/lib/machines",
		SettingsTrusted: []string{"/etc/systemd/nspawn", "/run/systemd/nspawn"},
		Run:             "/run/berth",
		State:           "/var/lib/berth",
		UnitDir:         "/etc/systemd/system",
		RuntimeUnitDir:  "/run/systemd/transient",
		Log:             "/var/log/berth",
		Journal:         "/var/log/journal",
		Cgroup:          "/sys/fs/cgroup",
	}
}

// Under returns the layout of Default placed below root. Under("/") is
// Default. The cgroup root is never moved: it is a kernel interface, and tests
// create their own child groups below it.
func Under(root string) Paths {
	j := func(p string) string { return filepath.Join(root, p) }
	return Paths{
		Root: root,
		ImageDirs: []string{
			j("/etc/machines"), j("/run/machines"), j("/var/lib/machines"),
			j("/var/lib/container"), j("/usr/local/lib/machines"), j("/usr/lib/machines"),
		},
		Pool:            j("/var/lib/machines"),
		SettingsTrusted: []string{j("/etc/systemd/nspawn"), j("/run/systemd/nspawn")},
		Run:             j("/run/berth"),
		State:           j("/var/lib/berth"),
		UnitDir:         j("/etc/systemd/system"),
		RuntimeUnitDir:  j("/run/systemd/transient"),
		Log:             j("/var/log/berth"),
		Journal:         j("/var/log/journal"),
		Cgroup:          "/sys/fs/cgroup",
	}
}
