// Package chownshift rewrites the ownership of a directory tree from one
// 64Ki-aligned UID/GID shift to another, the "chown" way of giving an
// unprivileged (user-namespaced) machine an image it owns, and of giving the
// image back to the host (shift 0).
//
// Every ID x of the tree becomes (x & 0xFFFF) | to, for inode owners and
// groups, for the user and group entries inside POSIX ACLs
// (system.posix_acl_access and system.posix_acl_default) and for the root
// ID of namespaced file capabilities (security.capability revision 3).
// Revision 2 capabilities, which belong to host root and work in every user
// namespace, are written back unchanged after the chown cleared them.
// Setuid and setgid bits, which the kernel clears on chown, are restored.
//
// The walk opens every directory with openat(O_NOFOLLOW|O_DIRECTORY) below
// the previous one and changes every entry by name relative to its directory
// with AT_SYMLINK_NOFOLLOW, so no symbolic link is ever followed, whatever
// the tree contains. Hard-linked files are shifted once. Entries on
// another mount than the top directory (other file systems, including proc,
// sysfs, cgroup and devpts, and bind mounts, told apart by their mount ID)
// are left alone, and the top directory must not itself be on proc, sysfs,
// cgroup or devpts.
//
// The shift is resumable. Before anything else the top directory is chowned
// to the busy range 0xFFFE0000 (keeping the low 16 bits of its IDs), the
// marker systemd-nspawn uses; its real owner is set last. A shift that was
// interrupted (SIGKILL, power loss) leaves the marker, and the next Shift
// redoes the whole tree. Because the shift of an ID does not depend on the
// ID's previous shift, redoing is always safe. What a chown destroys (the
// setuid/setgid bits and the capabilities of the file being changed) is
// first written to a journal xattr on the top directory
// (trusted.berth.shift), which the next run replays, so a kill between a
// chown and the restore loses nothing.
//
// Shift needs root: CAP_CHOWN, CAP_FOWNER, CAP_FSETID, and CAP_SETFCAP for
// file capabilities.
package chownshift
