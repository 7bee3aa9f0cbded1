package images

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// btrfs quota group ioctls and keys (linux/btrfs.h, btrfs_tree.h).
const (
	btrfsIocQgroupLimit   = 0x8030942b
	btrfsIocInoLookup     = 0xd0009412
	btrfsIocTreeSearch    = 0xd0009411
	btrfsQuotaTreeID      = 8
	btrfsQgroupInfoKey    = 242
	btrfsQgroupLimitKey   = 244
	btrfsLimitMaxRfer     = 1 << 0
	btrfsLimitMaxExcl     = 1 << 1
	btrfsSearchHeaderSize = 32
)

// btrfsQgroupLimitArgs is struct btrfs_ioctl_qgroup_limit_args.
type btrfsQgroupLimitArgs struct {
	qgroupid uint64
	flags    uint64
	maxRfer  uint64
	maxExcl  uint64
	rsvRfer  uint64
	rsvExcl  uint64
}

// btrfsInoLookupArgs is struct btrfs_ioctl_ino_lookup_args.
type btrfsInoLookupArgs struct {
	treeid   uint64
	objectid uint64
	name     [4080]byte
}

// btrfsSearchArgs is struct btrfs_ioctl_search_args.
type btrfsSearchArgs struct {
	treeID, minObjectid, maxObjectid, minOffset, maxOffset, minTransid, maxTransid uint64
	minType, maxType, nrItems, unused                                              uint32
	unused1, unused2, unused3, unused4                                             uint64
	buf                                                                            [4096 - 104]byte
}

// quota is what the quota group of a subvolume says; Unknown where it
// says nothing.
type quota struct {
	usage, usageExcl, limit, limitExcl uint64
}

// subvolQuota reads the level-0 quota group of the subvolume fd. With
// quotas disabled every field is Unknown.
func subvolQuota(fd int) quota {
	q := quota{Unknown, Unknown, Unknown, Unknown}
	id, err := subvolID(fd)
	if err != nil {
		return q
	}
	for _, typ := range []uint32{btrfsQgroupInfoKey, btrfsQgroupLimitKey} {
		if item, ok := quotaItem(fd, typ, id); ok {
			q.apply(typ, item)
		}
	}
	return q
}

// quotaItem returns the quota tree item with key (0, typ, id).
func quotaItem(fd int, typ uint32, id uint64) ([]byte, bool) {
	args := btrfsSearchArgs{treeID: btrfsQuotaTreeID, minOffset: id, maxOffset: id,
		minType: typ, maxType: typ, maxTransid: ^uint64(0), nrItems: 1}
	if err := ioctlPtr(fd, btrfsIocTreeSearch, unsafe.Pointer(&args)); err != nil || args.nrItems < 1 {
		return nil, false
	}
	le := binary.LittleEndian
	h := args.buf[:btrfsSearchHeaderSize]
	n := int(le.Uint32(h[28:]))
	if le.Uint64(h[16:]) != id || le.Uint32(h[24:]) != typ || n > len(args.buf)-btrfsSearchHeaderSize {
		return nil, false
	}
	return args.buf[btrfsSearchHeaderSize : btrfsSearchHeaderSize+n], true
}

// apply takes the values of one quota tree item.
func (q *quota) apply(typ uint32, item []byte) {
	le := binary.LittleEndian
	switch {
	case typ == btrfsQgroupInfoKey && len(item) >= 40:
		q.usage, q.usageExcl = le.Uint64(item[8:]), le.Uint64(item[24:])
	case typ == btrfsQgroupLimitKey && len(item) >= 40:
		flags := le.Uint64(item)
		if flags&btrfsLimitMaxRfer != 0 {
			q.limit = le.Uint64(item[8:])
		}
		if flags&btrfsLimitMaxExcl != 0 {
			q.limitExcl = le.Uint64(item[16:])
		}
	}
}

// subvolID returns the id of the subvolume fd is in.
func subvolID(fd int) (uint64, error) {
	args := btrfsInoLookupArgs{objectid: btrfsFirstFreeObjectid}
	if err := ioctlPtr(fd, btrfsIocInoLookup, unsafe.Pointer(&args)); err != nil {
		return 0, err
	}
	return args.treeid, nil
}

// setQuotaLimit sets the referenced-bytes limit of the subvolume fd's
// quota group; Unknown (UINT64_MAX) removes the limit. ErrNotSupported
// when quotas are not enabled.
func setQuotaLimit(fd int, limit uint64) error {
	args := btrfsQgroupLimitArgs{flags: btrfsLimitMaxRfer, maxRfer: limit}
	err := ioctlPtr(fd, btrfsIocQgroupLimit, unsafe.Pointer(&args))
	if errors.Is(err, unix.ENOTCONN) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTTY) {
		return fmt.Errorf("btrfs quotas are not enabled: %w", ErrNotSupported)
	}
	return err
}
