// Package containercgroup gives a container its own cgroup in the cgroup v2
// hierarchy, on pure cgroup v2 hosts (/sys/fs/cgroup is cgroup2) and on
// hybrid hosts (cgroup2 at /sys/fs/cgroup/unified next to the v1
// controllers).
//
// The container's cgroup is named like systemd-machined's scopes,
// machine.slice/machine-NAME.scope, or with --keep-unit a "payload" child
// of the spawner's own cgroup (the spawner moving itself to "supervisor",
// as systemd-nspawn does). The spawner puts the container's first process
// there before that process unshares its cgroup namespace, so the group
// becomes the root of the container's cgroup tree. Creating and removing
// groups needs root.
package containercgroup
