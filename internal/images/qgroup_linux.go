package images

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// btrfs quota group ioctls beyond those of quota_linux.go (linux/btrfs.h).
const (
	btrfsIocQgroupAssign = 0x40189429
	btrfsIocQgroupCreate = 0x4010942a
	btrfsIocQuotaRescan  = 0x4040942c
	// btrfsQgroupRelationKey is the key type of quota group relations.
	btrfsQgroupRelationKey = 246
)

// Levels of the subtree quota groups, as systemd-machined lays them out
// when the pool's subvolume belongs to no higher quota group: the pool's
// subtree group is 255/POOLID, holding the pool's own 0/POOLID and every
// image subvolume in it; an image's subtree group is 254/IMAGEID, holding
// its 0/IMAGEID, itself a member of the pool's group. Limits are set on
// the subtree groups, so the pool limit covers the images too.
const (
	poolQgroupLevel  = 255
	imageQgroupLevel = 254
)

// btrfsQgroupAssignArgs is struct btrfs_ioctl_qgroup_assign_args.
type btrfsQgroupAssignArgs struct {
	assign, src, dst uint64
}

// btrfsQgroupCreateArgs is struct btrfs_ioctl_qgroup_create_args.
type btrfsQgroupCreateArgs struct {
	create, qgroupid uint64
}

// btrfsQuotaRescanArgs is struct btrfs_ioctl_quota_rescan_args.
type btrfsQuotaRescanArgs struct {
	flags, progress uint64
	reserved        [6]uint64
}

// qgroupID is the quota group LEVEL/ID.
func qgroupID(level, id uint64) uint64 { return level<<48 | id }

// qgroupExists reports whether fd's file system has quota group qid.
func qgroupExists(fd int, qid uint64) bool {
	_, ok := quotaItem(fd, btrfsQgroupInfoKey, qid)
	return ok
}

// quotaErr maps "quotas are not enabled" to ErrNotSupported.
func quotaErr(op string, err error) error {
	if errors.Is(err, unix.ENOTCONN) || errors.Is(err, unix.ENOTTY) {
		return fmt.Errorf("%s: btrfs quotas are not enabled: %w", op, ErrNotSupported)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// subtreeQgroup returns the subtree quota group LEVEL/ID of the subvolume
// fd, creating it with the subvolume's own 0/ID in it when missing.
func subtreeQgroup(fd int, level uint64) (uint64, error) {
	id, err := subvolID(fd)
	if err != nil {
		return 0, fmt.Errorf("subvolume id: %w", err)
	}
	q := qgroupID(level, id)
	if qgroupExists(fd, q) {
		return q, nil
	}
	args := btrfsQgroupCreateArgs{create: 1, qgroupid: q}
	err = ioctlPtr(fd, btrfsIocQgroupCreate, unsafe.Pointer(&args))
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return 0, quotaErr(fmt.Sprintf("create quota group %d/%d", level, id), err)
	}
	return q, assignQgroup(fd, qgroupID(0, id), q)
}

// dropSubtreeQgroup removes the image subtree quota group of the
// subvolume fd, which is about to be deleted (the kernel drops its
// level-0 group itself): out of the groups it is in, its own group out
// of it, then the group. It does nothing when there is none; a failure
// leaves an empty group behind, which is harmless.
func dropSubtreeQgroup(fd int) {
	id, err := subvolID(fd)
	q := qgroupID(imageQgroupLevel, id)
	if err != nil || !qgroupExists(fd, q) {
		return
	}
	for _, parent := range qgroupParents(fd, q) {
		unassignQgroup(fd, q, parent)
	}
	unassignQgroup(fd, qgroupID(0, id), q)
	args := btrfsQgroupCreateArgs{create: 0, qgroupid: q}
	_ = ioctlPtr(fd, btrfsIocQgroupCreate, unsafe.Pointer(&args))
}

// unassignQgroup takes quota group src out of dst.
func unassignQgroup(fd int, src, dst uint64) {
	args := btrfsQgroupAssignArgs{assign: 0, src: src, dst: dst}
	_ = ioctlPtr(fd, btrfsIocQgroupAssign, unsafe.Pointer(&args))
}

// qgroupParents returns the quota groups q is a member of: the offsets
// of the relation items (q, RELATION, parent) with parent above q.
func qgroupParents(fd int, q uint64) []uint64 {
	args := btrfsSearchArgs{treeID: btrfsQuotaTreeID, minObjectid: q, maxObjectid: q, maxOffset: ^uint64(0),
		minType: btrfsQgroupRelationKey, maxType: btrfsQgroupRelationKey, maxTransid: ^uint64(0), nrItems: 64}
	if err := ioctlPtr(fd, btrfsIocTreeSearch, unsafe.Pointer(&args)); err != nil {
		return nil
	}
	le := binary.LittleEndian
	var out []uint64
	buf := args.buf[:]
	for i := uint32(0); i < args.nrItems && len(buf) >= btrfsSearchHeaderSize; i++ {
		objectid, offset, typ := le.Uint64(buf[8:]), le.Uint64(buf[16:]), le.Uint32(buf[24:])
		n := int(le.Uint32(buf[28:]))
		if n > len(buf)-btrfsSearchHeaderSize {
			break
		}
		if objectid == q && typ == btrfsQgroupRelationKey && offset > q {
			out = append(out, offset)
		}
		buf = buf[btrfsSearchHeaderSize+n:]
	}
	return out
}

// assignQgroup makes quota group src a member of dst (already being one
// is fine) and starts a rescan when the kernel asks for one.
func assignQgroup(fd int, src, dst uint64) error {
	args := btrfsQgroupAssignArgs{assign: 1, src: src, dst: dst}
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), btrfsIocQgroupAssign, uintptr(unsafe.Pointer(&args)))
	switch {
	case errno == unix.EEXIST:
		return nil
	case errno != 0:
		return quotaErr(fmt.Sprintf("assign quota group %d/%d to %d/%d", src>>48, src&(1<<48-1), dst>>48, dst&(1<<48-1)), errno)
	case r > 0:
		// The accounting could not be updated in place.
		var rescan btrfsQuotaRescanArgs
		if err := ioctlPtr(fd, btrfsIocQuotaRescan, unsafe.Pointer(&rescan)); err != nil && !errors.Is(err, unix.EINPROGRESS) {
			return fmt.Errorf("quota rescan: %w", err)
		}
	}
	return nil
}

// limitQgroup sets the referenced-bytes limit of quota group q; Unknown
// (UINT64_MAX) removes it.
func limitQgroup(fd int, q, limit uint64) error {
	args := btrfsQgroupLimitArgs{qgroupid: q, flags: btrfsLimitMaxRfer, maxRfer: limit}
	return quotaErr("set quota limit", ioctlPtr(fd, btrfsIocQgroupLimit, unsafe.Pointer(&args)))
}

// joinPoolQgroup makes the image subvolume sub count towards the pool's
// subtree quota group, when the pool (fd pool) has one: its own subtree
// group if it has one, else its 0-level group.
func joinPoolQgroup(pool, sub int) error {
	pid, err := subvolID(pool)
	if err != nil {
		return nil // not a subvolume: no pool group
	}
	pq := qgroupID(poolQgroupLevel, pid)
	if !qgroupExists(pool, pq) {
		return nil
	}
	sid, err := subvolID(sub)
	if err != nil {
		return fmt.Errorf("subvolume id: %w", err)
	}
	src := qgroupID(imageQgroupLevel, sid)
	if !qgroupExists(sub, src) {
		src = qgroupID(0, sid)
	}
	return assignQgroup(pool, src, pq)
}

// joinPoolQgroupAt is joinPoolQgroup for the subvolume pool/name.
func joinPoolQgroupAt(pool int, name string) error {
	fd, err := openAt(pool, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return joinPoolQgroup(pool, fd)
}
