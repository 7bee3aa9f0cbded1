// Package rootfs builds a container's file system tree inside a private
// mount namespace: the root bind mount (read-only, volatile or ephemeral
// variants), the API file systems (/proc, /sys, /sys/fs/cgroup, /dev with
// its nodes, devpts, shm and mqueue, /run with /run/host, /tmp), the custom
// mounts of --bind, --tmpfs, --overlay and --inaccessible, and finally the
// pivot_root into it.
//
// Every mount target is resolved inside the container root, never through a
// symlink leading out of it: the root is opened once as an O_PATH handle,
// targets are opened relative to it with openat2(RESOLVE_IN_ROOT) (API
// directories with RESOLVE_NO_SYMLINKS, so a symlinked /proc, /sys, /dev,
// /run or /tmp in the image is refused), and the mount is made on the
// opened handle through /proc/self/fd. A procfs mount is verified with
// fstatfs after it was made.
//
// Everything here needs root (CAP_SYS_ADMIN) and must run in a mount
// namespace of its own; only the Linux build does anything.
package rootfs
