package containernet

import "testing"

// TestSiphash24 checks the reference vectors of the SipHash paper
// (key 00..0f, messages 00..len-1).
func TestSiphash24(t *testing.T) {
	var key [16]byte
	for i := range key {
		key[i] = byte(i)
	}
	want := []uint64{
		0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
		0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
		0x93f5f5799a932462, 0x9e0082df0ba9e4b0,
	}
	msg := make([]byte, 0, len(want))
	for i, w := range want {
		if got := siphash24(msg, key); got != w {
			t.Errorf("len %d: siphash24 = %#x, want %#x", i, got, w)
		}
		msg = append(msg, byte(i))
	}
	long := make([]byte, 63)
	for i := range long {
		long[i] = byte(i)
	}
	if got, w := siphash24(long, key), uint64(0x958a324ceb064572); got != w {
		t.Errorf("len 63: siphash24 = %#x, want %#x", got, w)
	}
}
