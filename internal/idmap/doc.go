// Package idmap makes idmapped mounts: a detached clone of a directory tree
// whose file owners are translated through a user namespace's ID mapping,
// so an image owned by host IDs 0–65535 appears owned by a machine's UID
// range without a single inode being rewritten (the "map" way of
// --private-users-ownership, O(1) in the size of the tree).
//
// A Mapping reads like a line of /proc/PID/uid_map: Inner is the ID stored
// on disk, Outer the host ID it appears as through the mount. A file a
// process with host ID Outer+k creates through the mount is stored as
// Inner+k.
//
// NewUserNS creates the user namespace that carries a mapping. It does not
// fork the Go runtime: it starts /proc/self/exe with CLONE_NEWUSER and the
// mapping through exec.Cmd, stopped by PTRACE_TRACEME before it runs a
// single instruction of the program, opens /proc/PID/ns/user and kills it.
// Clone, Tree.Idmap and Tree.Attach wrap open_tree(OPEN_TREE_CLONE),
// mount_setattr(MOUNT_ATTR_IDMAP) and move_mount. Supported probes whether
// a path's file system can be idmapped.
//
// Everything here needs root (CAP_SYS_ADMIN in the initial user namespace)
// and Linux 5.12 or later; tmpfs supports idmapped mounts from Linux 6.3.
// The mapping helpers (RootMappings, BindMappings, Validate) are pure.
package idmap
