package rootfs

import (
	"strconv"

	"github.com/berth-dev/berth/internal/nspawnopts"
)

// Spec says what to build. It is plain data, filled from the validated
// command line by the spawner.
type Spec struct {
	// Dir is the image directory on the host.
	Dir string
	// ReadOnly mounts the root read-only.
	ReadOnly bool
	// Volatile is one of the nspawnopts.Volatile* modes.
	Volatile string
	// Ephemeral runs on a throw-away copy-on-write layer over Dir.
	Ephemeral bool
	// PivotRoot, if set, is the directory inside the image that becomes
	// the root (--pivot-root=NEW[:OLD]); PivotOld is where the image's
	// own root then appears (empty: nowhere).
	PivotRoot, PivotOld string
	// Binds, TmpFS, Overlays and Inaccessible are the custom mounts.
	Binds        []nspawnopts.Bind
	TmpFS        []nspawnopts.TmpFS
	Overlays     []nspawnopts.Overlay
	Inaccessible []string
	// Host are the files placed in /run/host: name → contents.
	Host map[string][]byte
	// ResolvConf and Timezone are the --resolv-conf and --timezone modes.
	ResolvConf, Timezone string
	// PrivateNetwork makes --resolv-conf=auto leave resolv.conf alone.
	PrivateNetwork bool
	// JoinedNetNS says the container joins an existing network namespace
	// (--network-namespace-path) rather than getting a new one: Prepare
	// mounts its sysfs, from inside it.
	JoinedNetNS bool
	// RootTree, if not 0, is the descriptor of a detached (idmapped) mount
	// of the image, attached as the root instead of a bind mount of Dir.
	RootTree int
	// BindTrees, parallel to Binds, are descriptors of detached idmapped
	// mounts of bind sources (0: an ordinary bind mount).
	BindTrees []int
	// LinkJournal is the --link-journal mode; MachineID names the journal
	// directory (32 hex digits) and may be empty.
	LinkJournal, MachineID string
	// HostJournal is the host's journal directory, /var/log/journal when
	// empty (paths.Paths.Journal).
	HostJournal string
	// Incoming is the machine's host propagation directory, bound at
	// IncomingDir (none when empty).
	Incoming string
	// UserNS says the container runs in a user namespace whose root is
	// host UID and GID Shift: the file systems and directories Prepare
	// makes as host root are given to that user.
	UserNS bool
	Shift  uint32
}

// Host file names in /run/host.
const (
	HostOSRelease        = "os-release"
	HostContainerManager = "container-manager"
	HostContainerUUID    = "container-uuid"
)

// tmpfsData returns the mount options data of a tmpfs Prepare mounts: with
// a user namespace, its root directory belongs to the namespace's root.
func (s *Spec) tmpfsData(data string) string {
	if !s.UserNS {
		return data
	}
	id := strconv.FormatUint(uint64(s.Shift), 10)
	return data + ",uid=" + id + ",gid=" + id
}

// sysInside reports whether the stage mounts /sys: for the container's own
// network namespace, which its user namespace owns. Otherwise Prepare
// mounts the sysfs of the network namespace it runs in.
func (s *Spec) sysInside() bool { return s.PrivateNetwork && !s.JoinedNetNS }
