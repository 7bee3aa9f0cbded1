package gpt

import (
	"hash/crc32"
	"testing"
)

func TestChecksum(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one byte", []byte{0xff}},
		{"text", []byte("EFI PART, a partition table header")},
		{"zeros", make([]byte, 16384)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := checksum(tc.data), crc32.ChecksumIEEE(tc.data); got != want {
				t.Errorf("checksum = %#08x, want %#08x", got, want)
			}
		})
	}
}

func FuzzChecksum(f *testing.F) {
	f.Add([]byte("EFI PART"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := checksum(b), crc32.ChecksumIEEE(b); got != want {
			t.Errorf("checksum(%x) = %#08x, want %#08x", b, got, want)
		}
	})
}
