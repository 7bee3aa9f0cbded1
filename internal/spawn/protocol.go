package spawn

import "github.com/berth-dev/berth/internal/nspawnopts"

// syncFD is the stage's descriptor of the socket pair to the spawner.
const syncFD = 3

// The spawner sends the stage two messages on the sync socket: the
// stage's configuration (stagePlan, encoded as stage.h describes) as soon
// as the stage is in its cgroup, so that it builds the container's tree
// while the spawner sets up the network and registers the machine, and
// then, when there is such work (stageConfig.awaitGo), the one byte msgGo
// once it is done: the stage executes the payload only after it. The stage answers with msgFDs (the console
// master and notify socket, as SCM_RIGHTS) or msgError and a reason; its
// end of the socket closes on execve.

// stageConfig is what the spawner knows of the container it runs.
type stageConfig struct {
	// Config is the validated command line.
	Config nspawnopts.Config
	// UUID is the container's ID (from the image, --uuid, or random).
	UUID string
	// Host are the /run/host files.
	Host map[string][]byte
	// Env is the payload's environment before user-dependent entries.
	Env []string
	// Cgroup says a cgroup2 hierarchy can be mounted for the container.
	Cgroup bool
	// users is the spawner's side of the user namespace (nil without).
	users *users
	// plan is the stage's encoded configuration for the next start, made
	// once the host half of the tree is built (planStage).
	plan []byte
	// awaitGo says the stage waits for msgGo: the spawner registers the
	// machine or builds the host side of its network after starting it.
	awaitGo bool
}
