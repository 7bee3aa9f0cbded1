package gpt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"unicode/utf16"
)

// Errors of RootPartition.
var (
	// ErrNoRootPartition: a partitioned raw image has no partition berth
	// can run as the root.
	ErrNoRootPartition = errors.New("no root partition in the partition table")
	// ErrCorrupt: the partition table is malformed.
	ErrCorrupt = errors.New("corrupt partition table")
)

// Partition is where the root file system of a partitioned raw image
// lies in the image file.
type Partition struct {
	// Offset and Size are in bytes.
	Offset, Size int64
	// ReadOnly is set when the partition is marked read-only
	// (GPT attribute bit 60).
	ReadOnly bool
}

// GPT layout (UEFI specification 2.10, section 5.3).
const (
	gptSignature     = "EFI PART"
	gptMinHeaderSize = 92
	gptMaxEntries    = 1024
	gptMinEntrySize  = 128
	gptMaxEntrySize  = 4096
	// gptFlagReadOnly and gptFlagNoAuto are the Discoverable Partitions
	// attribute bits.
	gptFlagReadOnly = 1 << 60
	gptFlagNoAuto   = 1 << 63
)

// Partition type GUIDs (Discoverable Partitions Specification), in the
// textual form.
const (
	linuxDataType = "0fc63daf-8483-4772-8e79-3d69d8477de4"
	rootX86_64    = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709"
	rootX86       = "44479540-f297-41b2-9af7-d131d5f0458a"
	rootARM64     = "b921b045-1df0-41c3-af44-4c6f280d3fae"
	rootARM       = "69dad710-2ce4-4e3c-b16c-21a1d49abed3"
	rootRISCV64   = "72ec70a6-cf74-40e6-bd49-4bda08e8f224"
)

// rootTypes are the root partition types this host runs, preferred first.
func rootTypes(goarch string) []string {
	return map[string][]string{
		"amd64": {rootX86_64, rootX86}, "386": {rootX86},
		"arm64": {rootARM64, rootARM}, "arm": {rootARM}, "riscv64": {rootRISCV64},
	}[goarch]
}

// gptEntry is one used partition table entry.
type gptEntry struct {
	typ         string
	first, last uint64
	attrs       uint64
	// label is the partition name.
	label string
}

// RootPartition finds the root file system of a raw image of size bytes
// read through r, as systemd-nspawn's image dissection does for a GUID
// partition table: a partition of a root type of this architecture (the
// native one before its 32-bit companion) not marked "do not mount", the
// newest by label version among several ("root-10" over "root-9", for
// A/B updates), else the only Linux file system data partition. ok is
// false when the image has no GUID partition table (a single file system
// is then expected); ErrNoRootPartition when it has one but no root;
// a malformed table (bad signature, checksum or bounds) is an error.
// Both 512- and 4096-byte sectors are recognized.
func RootPartition(r io.ReaderAt, size int64) (p Partition, ok bool, err error) {
	return rootPartitionFor(r, size, runtime.GOARCH)
}

// rootPartitionFor is RootPartition for the architecture goarch.
func rootPartitionFor(r io.ReaderAt, size int64, goarch string) (Partition, bool, error) {
	for _, sector := range []int64{512, 4096} {
		entries, found, err := readGPT(r, size, sector)
		if err != nil || found {
			if err != nil {
				return Partition{}, true, err
			}
			p, err := pickRoot(entries, goarch, sector, size)
			return p, true, err
		}
	}
	return Partition{}, false, nil
}

// readGPT reads the primary GPT header at LBA 1 for the sector size and
// its entries; found is false when there is no header signature.
func readGPT(r io.ReaderAt, size, sector int64) (entries []gptEntry, found bool, err error) {
	h := make([]byte, sector)
	if size < 2*sector {
		return nil, false, nil
	}
	if _, err := r.ReadAt(h, sector); err != nil {
		return nil, false, fmt.Errorf("read partition table: %w", err)
	}
	if string(h[:8]) != gptSignature {
		return nil, false, nil
	}
	le := binary.LittleEndian
	hsize := le.Uint32(h[12:])
	if hsize < gptMinHeaderSize || int64(hsize) > sector {
		return nil, true, fmt.Errorf("partition table header size %d: %w", hsize, ErrCorrupt)
	}
	sum := le.Uint32(h[16:])
	hdr := bytes.Clone(h[:hsize])
	clear(hdr[16:20])
	if checksum(hdr) != sum {
		return nil, true, fmt.Errorf("partition table header checksum: %w", ErrCorrupt)
	}
	lba, n, esize := le.Uint64(h[72:]), le.Uint32(h[80:]), le.Uint32(h[84:])
	if n > gptMaxEntries || esize < gptMinEntrySize || esize > gptMaxEntrySize || esize%8 != 0 ||
		lba > uint64(size/sector) || int64(lba)*sector+int64(n)*int64(esize) > size {
		return nil, true, fmt.Errorf("partition entries (%d of %d bytes at LBA %d) out of bounds: %w", n, esize, lba, ErrCorrupt)
	}
	raw := make([]byte, int(n)*int(esize))
	if _, err := r.ReadAt(raw, int64(lba)*sector); err != nil {
		return nil, true, fmt.Errorf("read partition entries: %w", err)
	}
	if checksum(raw) != le.Uint32(h[88:]) {
		return nil, true, fmt.Errorf("partition entries checksum: %w", ErrCorrupt)
	}
	for i := 0; i < int(n); i++ {
		e := raw[i*int(esize):]
		if bytes.Equal(e[:16], make([]byte, 16)) {
			continue // unused
		}
		entries = append(entries, gptEntry{typ: guidString(e[:16]), first: le.Uint64(e[32:]), last: le.Uint64(e[40:]),
			attrs: le.Uint64(e[48:]), label: utf16Label(e[56:128])})
	}
	return entries, true, nil
}

// pickRoot chooses the root among entries and checks its bounds.
func pickRoot(entries []gptEntry, goarch string, sector, size int64) (Partition, error) {
	var pick *gptEntry
	for _, typ := range rootTypes(goarch) {
		for i, e := range entries {
			if e.typ == typ && e.attrs&gptFlagNoAuto == 0 && (pick == nil || pick.typ == typ && versionLess(pick.label, e.label)) {
				pick = &entries[i]
			}
		}
	}
	if pick == nil {
		var data []*gptEntry
		for i, e := range entries {
			if e.typ == linuxDataType {
				data = append(data, &entries[i])
			}
		}
		if len(data) != 1 {
			return Partition{}, fmt.Errorf("%w (and %d Linux file system partitions, not one)", ErrNoRootPartition, len(data))
		}
		pick = data[0]
	}
	if pick.first == 0 || pick.last < pick.first || pick.last >= uint64(size/sector) {
		return Partition{}, fmt.Errorf("root partition (LBA %d to %d) out of bounds: %w", pick.first, pick.last, ErrCorrupt)
	}
	return Partition{
		Offset: int64(pick.first) * sector, Size: int64(pick.last-pick.first+1) * sector,
		ReadOnly: pick.attrs&gptFlagReadOnly != 0,
	}, nil
}

// utf16Label decodes a partition name: UTF-16LE up to the first NUL.
func utf16Label(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// versionLess compares partition labels as versions ("root-9" before
// "root-10"): runs of digits by value, everything else byte by byte.
func versionLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

// digits returns the length of the run of ASCII digits s starts with.
func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// guidString formats a GUID stored in GPT's mixed-endian layout.
func guidString(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}
