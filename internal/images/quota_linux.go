package images

import (
	"encoding/binary"
	"unsafe"
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

// subvolQuota reads the quota group of the subvolume fd: its subtree
// group at level if it has one, else its level-0 group. With quotas
// disabled every field is Unknown.
func subvolQuota(fd int, level uint64) quota {
	q := quota{Unknown, Unknown, Unknown, Unknown}
	id, err := subvolID(fd)
	if err != nil {
		return q
	}
	qid := qgroupID(level, id)
	if !qgroupExists(fd, qid) {
		qid = qgroupID(0, id)
	}
	for _, typ := range []uint32{btrfsQgroupInfoKey, btrfsQgroupLimitKey} {
		if item, ok := quotaItem(fd, typ, qid); ok {
			q.apply(typ, item)
		}
	}
	return q
}

// quotaItem returns the quota tree item with key (0, typ, id), id being
// a quota group id (qgroupID).
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
