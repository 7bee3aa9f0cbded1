// Package images finds machine images and operates on them: the library
// behind machined's image methods (ListImages, GetImage, CloneImage,
// RenameImage, RemoveImage, MarkImageReadOnly, CleanPool, SetImageLimit,
// GetImageHostname/MachineID/MachineInfo/OSRelease).
//
// # Discovery
//
// Images are looked up in paths.ImageDirs (/etc/machines, /run/machines,
// /var/lib/machines, /var/lib/container, /usr/local/lib/machines,
// /usr/lib/machines); the first directory with the name wins. In each,
// <name> (a directory, btrfs subvolume or block device; a symlink is
// followed to decide) and then <name>.raw (a regular file). ".host" is the
// root directory. Names starting with "." are hidden; ".#" names are
// temporaries and never listed. An image is read-only when it is under
// <root>/usr (a vendor image), is .host, sits on a read-only file system,
// has the immutable attribute, is a read-only btrfs subvolume, or is a raw
// file without write bits.
//
// # Operations
//
// Clone (snapshot, else reflink, else a faithful copy, built under a ".#"
// temporary and renamed into place), Rename (renameat2 RENAME_NOREPLACE),
// Remove (fd-based, clears immutable flags, unlinks a symlink entry only),
// MarkReadOnly, Clean (also removing ".#" temporaries of dead clones), and
// SetLimit/SetPoolLimit through btrfs subtree quota groups laid out as
// machined does (the pool's 255/ID holds the pool and every subvolume
// image in it, an image's 254/ID holds the image; ErrNotSupported for
// anything but a btrfs subvolume with quotas enabled, which berth never
// enables itself; Remove drops an image's group, which fails harmlessly
// while the pool is over its limit). Subvolume images report usage and limits from their
// subtree group, else their own; other types report Unknown, except raw
// files (allocated and apparent size). A raw image with a GUID partition
// table is read from its root partition (internal/gpt). Rename, Clone
// and Remove carry NAME.nspawn along. Vendor images and .host are
// ErrReadOnly.
//
// CopyTree exposes the copy engine for trees outside the pool (the
// spawner's --template and -x), and Inspect describes an image given by
// path (-D, -i) the way Find describes one found by name.
//
// # Locks
//
// A running machine holds its image's Lock (Manager.Lock or LockPath);
// Remove and Rename take the same lock without waiting and fail with
// ErrBusy while it is held. Locks are flock(2) files under paths.Run/locks,
// keyed by device and inode, so they work across processes and renames.
// Rename and Clone also serialise on the new name, so of two concurrent
// renames to one name exactly one wins and the other gets ErrExists.
//
// Every operation needs root (or ownership of the directories involved);
// the package is Linux-only.
package images
