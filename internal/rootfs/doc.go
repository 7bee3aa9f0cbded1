// Package rootfs builds the host half of a container's file system tree,
// as systemd-nspawn's outer child does. Prepare runs as host root in the
// spawner's private mount namespace: the root bind mount (idmapped,
// read-only, volatile or ephemeral variants), /dev with its nodes and
// /dev/shm, /run with /run/host, /tmp, the host network's /sys, the custom
// mounts of --bind, --tmpfs, --overlay and --inaccessible, the journal
// link and the /etc files of --resolv-conf and --timezone. The container
// half (/proc, a private network's /sys, /sys/fs/cgroup, devpts, mqueue,
// the boot ID, the read-only root and the pivot_root) is built by the
// stage of package spawn, in C, in the container's own namespaces, on a
// copy of that mount namespace, with the same rules. With a user
// namespace, what Prepare creates belongs to the namespace's root (tmpfs
// uid=/gid=, chown). Root also answers the spawner's questions about the
// image (OpenFile, IsExecutable) inside the prepared tree.
//
// Every mount target is resolved inside the container root, never through a
// symlink leading out of it: the root is opened once as an O_PATH handle,
// targets are opened relative to it with openat2(RESOLVE_IN_ROOT) (API
// directories with RESOLVE_NO_SYMLINKS, so a symlinked /proc, /sys, /dev,
// /run or /tmp in the image is refused), and the mount is made on the
// opened handle through /proc/self/fd.
//
// Prepare needs host root (CAP_SYS_ADMIN in the initial user namespace) and
// must run in a mount namespace of its own. Only the Linux build does
// anything.
package rootfs
