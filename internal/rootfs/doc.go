// Package rootfs builds a container's file system tree in two halves, as
// systemd-nspawn does. Prepare runs as host root in the spawner's private
// mount namespace: the root bind mount (idmapped, read-only, volatile or
// ephemeral variants), /dev with its nodes and /dev/shm, /run with
// /run/host, /tmp, the host network's /sys, and the custom mounts of
// --bind, --tmpfs, --overlay and --inaccessible. Finish runs in the
// container's own namespaces (its user namespace included, which owns
// them all), on a copy of that mount namespace: /proc, a private
// network's /sys, /sys/fs/cgroup, devpts, mqueue, the boot ID, the /etc
// files, the read-only root, and finally the pivot_root into it. With a
// user namespace, what Prepare creates belongs to the namespace's root
// (tmpfs uid=/gid=, chown).
//
// Every mount target is resolved inside the container root, never through a
// symlink leading out of it: the root is opened once as an O_PATH handle,
// targets are opened relative to it with openat2(RESOLVE_IN_ROOT) (API
// directories with RESOLVE_NO_SYMLINKS, so a symlinked /proc, /sys, /dev,
// /run or /tmp in the image is refused), and the mount is made on the
// opened handle through /proc/self/fd. A procfs mount is verified with
// fstatfs after it was made.
//
// Prepare needs host root (CAP_SYS_ADMIN in the initial user namespace)
// and Finish CAP_SYS_ADMIN in the container's user namespace; both must run
// in a mount namespace of their own. Only the Linux build does anything.
package rootfs
