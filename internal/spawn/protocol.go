package spawn

import "github.com/berth-dev/berth/internal/nspawnopts"

// StageArg is the first argument that makes the binary run StageMain.
const StageArg = "__berth-nspawn-stage"

// syncFD is the stage's descriptor of the socket pair to the spawner.
const syncFD = 3

// The spawner sends the stage two messages: the stageConfig as soon as the
// stage is in its cgroup, so that it builds the container's tree while the
// spawner sets up the network and registers the machine, and then goMsg once
// those are done: the stage executes the payload only after it.

// goMsg tells the stage that the host side is ready and the payload may
// start.
const goMsg = "go"

// stageConfig is what the spawner sends the stage once the stage may go on.
type stageConfig struct {
	// Config is the validated command line.
	Config nspawnopts.Config `json:"config"`
	// UUID is the container's ID (from the image, --uuid, or random).
	UUID string `json:"uuid"`
	// Host are the /run/host files.
	Host map[string][]byte `json:"host"`
	// Env is the payload's environment before user-dependent entries.
	Env []string `json:"env"`
	// Cgroup says a cgroup2 hierarchy can be mounted for the container.
	Cgroup bool `json:"cgroup"`
	// users is the spawner's side of the user namespace (nil without).
	users *users
}

// Message kinds the stage sends.
const (
	msgError = "error"
	msgFDs   = "fds"
)

// stageMsg is one message from the stage to the spawner.
type stageMsg struct {
	Kind string `json:"kind"`
	// Error is set for msgError.
	Error string `json:"error,omitempty"`
	// Console and Notify say which descriptors a msgFDs carries, in that
	// order.
	Console bool `json:"console,omitempty"`
	Notify  bool `json:"notify,omitempty"`
}
