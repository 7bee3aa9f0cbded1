package gpt

import "sync"

// crcTable is the CRC-32 (IEEE) table, built on first use: hash/crc32
// builds its table at every start of every program that imports it, and
// berth-nspawn reads a partition table only for -i.
var crcTable = sync.OnceValue(func() *[256]uint32 {
	var t [256]uint32
	for i := range t {
		c := uint32(i)
		for range 8 {
			if c&1 == 1 {
				c = c>>1 ^ 0xedb88320
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return &t
})

// checksum is the CRC-32 (IEEE) of b, as in the GPT header and what
// crc32.ChecksumIEEE computes.
func checksum(b []byte) uint32 {
	t := crcTable()
	c := ^uint32(0)
	for _, x := range b {
		c = t[byte(c)^x] ^ c>>8
	}
	return ^c
}
