package nspawnopts

import (
	"github.com/berth-dev/berth/internal/capset"
	"github.com/berth-dev/berth/internal/idmap"
	"github.com/berth-dev/berth/internal/nspawnsettings"
	"github.com/berth-dev/berth/internal/privusers"
)

// Bind is one --bind or --bind-ro mount.
type Bind struct {
	// Source is the host path; empty for a throw-away temporary directory.
	Source string `json:"source,omitempty"`
	// SourceInRoot marks a "+SRC" source, a path inside the container root.
	SourceInRoot bool `json:"source_in_root,omitempty"`
	// Dest is the absolute path inside the container.
	Dest string `json:"dest"`
	// ReadOnly is set for --bind-ro.
	ReadOnly bool `json:"read_only,omitempty"`
	// Recursive is rbind (the default); false for norbind.
	Recursive bool `json:"recursive"`
	// IDMap is the idmap, rootidmap or idmap=HOST:CONTAINER[:COUNT]
	// option (BindPlain without one, or with noidmap).
	IDMap idmap.Bind `json:"idmap"`
}

// TmpFS is one --tmpfs mount.
type TmpFS struct {
	// Dest is the absolute path inside the container.
	Dest string `json:"dest"`
	// Options are the tmpfs mount options ("mode=0755" by default).
	Options string `json:"options"`
}

// Overlay is one --overlay or --overlay-ro mount.
type Overlay struct {
	// Lower are the lower directories, the lowest first (as on the
	// command line); a "+" prefix means a path inside the container root.
	Lower []string `json:"lower"`
	// Upper is the writable upper directory; empty for a throw-away one
	// (ignored when ReadOnly).
	Upper string `json:"upper,omitempty"`
	// Dest is the absolute path inside the container.
	Dest string `json:"dest"`
	// ReadOnly is set for --overlay-ro.
	ReadOnly bool `json:"read_only,omitempty"`
	// Work is overlayfs's work directory next to Upper. Parse leaves it
	// empty; the spawner creates it and removes it when the container ends.
	Work string `json:"work,omitempty"`
}

// Console modes of --console.
const (
	ConsoleInteractive = "interactive"
	ConsoleReadOnly    = "read-only"
	ConsolePassive     = "passive"
	ConsolePipe        = "pipe"
)

// Volatile modes of --volatile.
const (
	VolatileNo      = "no"
	VolatileYes     = "yes"
	VolatileState   = "state"
	VolatileOverlay = "overlay"
)

// Register modes of --register.
const (
	RegisterYes  = "yes"
	RegisterNo   = "no"
	RegisterAuto = "auto"
)

// Config is a validated container configuration: what the command line
// asked for, with every default filled in.
type Config struct {
	// Directory is the container's root directory on the host.
	Directory string `json:"directory"`
	// Image is the raw disk image of -i (then Directory is empty until
	// the spawner mounts it).
	Image string `json:"image,omitempty"`
	// Template is the --template directory an empty Directory is filled from.
	Template string `json:"template,omitempty"`
	// Machine is the machine name (-M, or derived from Directory).
	Machine string `json:"machine"`
	// Hostname is the container's hostname (the machine name by default).
	Hostname string `json:"hostname"`
	// UUID is the --uuid value in canonical form, or empty.
	UUID string `json:"uuid,omitempty"`
	// Boot runs the image's init (-b).
	Boot bool `json:"boot,omitempty"`
	// AsPID2 runs a stub init as PID 1 and the command as PID 2 (-a).
	AsPID2 bool `json:"as_pid2,omitempty"`
	// PivotRoot is --pivot-root=NEW[:OLD]: the image's directory NEW
	// becomes the root, the image's own root goes to OLD (or away).
	PivotRoot nspawnsettings.PivotRoot `json:"pivot_root"`
	// Chdir is the payload's working directory inside the container.
	Chdir string `json:"chdir,omitempty"`
	// Env are extra NAME=VALUE assignments for the payload (-E).
	Env []string `json:"env,omitempty"`
	// User is the user the payload runs as (-u); empty for root.
	User string `json:"user,omitempty"`
	// KillSignal is forwarded to PID 1 on SIGTERM/SIGINT; 0 means the
	// spawner terminates the container itself.
	KillSignal int `json:"kill_signal,omitempty"`
	// NotifyReady waits for READY=1 from the guest before reporting ready.
	NotifyReady bool `json:"notify_ready,omitempty"`
	// ReadOnly mounts the root read-only.
	ReadOnly bool `json:"read_only,omitempty"`
	// Ephemeral runs on a throw-away snapshot of Directory (-x).
	Ephemeral bool `json:"ephemeral,omitempty"`
	// Volatile is one of the Volatile* modes.
	Volatile string `json:"volatile"`
	// Binds are the --bind and --bind-ro mounts, in order.
	Binds []Bind `json:"binds,omitempty"`
	// TmpFS are the --tmpfs mounts, in order.
	TmpFS []TmpFS `json:"tmpfs,omitempty"`
	// Overlays are the --overlay and --overlay-ro mounts, in order.
	Overlays []Overlay `json:"overlays,omitempty"`
	// Inaccessible are paths made inaccessible (--inaccessible).
	Inaccessible []string `json:"inaccessible,omitempty"`
	// Caps is the capability set the payload keeps.
	Caps capset.Set `json:"caps"`
	// AmbientCaps are raised in the payload's inheritable and ambient
	// sets (--ambient-capability=, AmbientCapability=); a subset of Caps.
	AmbientCaps capset.Set `json:"ambient_caps,omitempty"`
	// NoNewPrivileges sets PR_SET_NO_NEW_PRIVS for the payload.
	NoNewPrivileges bool `json:"no_new_privileges,omitempty"`
	// ResolvConf is the --resolv-conf mode.
	ResolvConf string `json:"resolv_conf"`
	// Timezone is the --timezone mode.
	Timezone string `json:"timezone"`
	// LinkJournal is the --link-journal mode.
	LinkJournal string `json:"link_journal"`
	// Console is one of the Console* modes (autopipe already resolved).
	Console string `json:"console"`
	// Quiet suppresses informational messages (-q).
	Quiet bool `json:"quiet,omitempty"`
	// Register is one of the Register* modes.
	Register string `json:"register"`
	// KeepUnit keeps the caller's unit/cgroup instead of creating a scope.
	KeepUnit bool `json:"keep_unit,omitempty"`
	// PrivateUsers is the user namespace (-U, --private-users=).
	PrivateUsers privusers.Users `json:"private_users"`
	// PrivateUsersOwnership is --private-users-ownership= (Default when
	// not given: auto with pick, off otherwise).
	PrivateUsersOwnership privusers.Ownership `json:"private_users_ownership,omitempty"`
	// SettingsMode is --settings= (how a .nspawn file is merged).
	SettingsMode nspawnsettings.Mode `json:"-"`
	// CommandLine are the options given, as .nspawn settings, for
	// ApplySettings.
	CommandLine *nspawnsettings.Settings `json:"-"`
	// Process are the .nspawn settings applied to the payload's process
	// (resource limits, personality, OOM score, CPU affinity).
	Process nspawnsettings.Process `json:"process"`
	// PrivateNetwork gives the container a network namespace with only lo.
	PrivateNetwork bool `json:"private_network,omitempty"`
	// Network are the network options beyond --private-network.
	Network Network `json:"network"`
	// Command is the payload and its arguments; empty for a login shell
	// (or the image's init with Boot, then it holds init's arguments).
	Command []string `json:"command,omitempty"`
}
