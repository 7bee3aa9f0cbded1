// Package treecopy copies a file or directory tree between two directory
// file descriptors without following any symlink: symlinks are copied as
// symlinks, every open uses O_NOFOLLOW (and O_NONBLOCK, so a FIFO swapped
// in cannot hang the copy), every entry is created with O_EXCL relative to
// a directory fd the copy itself holds. It backs CopyToMachine and
// CopyFromMachine, where one side is a container's root: the caller opens
// that side's directories with inroot, so nothing can lead a write out of
// the container, whatever the container does meanwhile.
//
// Regular files keep their holes (only data segments are copied, with
// copy_file_range where the kernel can). Files and directories keep their
// user.* extended attributes and POSIX ACLs (named users and groups
// shifted by Options.UID and GID when Chown is set, for user-namespaced
// machines); file capabilities are kept only with Options.KeepSetID.
//
// Device nodes and sockets are skipped; setuid and setgid bits are
// dropped unless Options.KeepSetID. Needs whatever access the caller has
// (root, for machines).
package treecopy
