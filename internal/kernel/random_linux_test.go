package kernel

import (
	"bytes"
	"testing"
)

func TestRandom(t *testing.T) {
	for _, n := range []int{0, 1, 16, 300} {
		a, b := make([]byte, n), make([]byte, n)
		if err := Random(a); err != nil {
			t.Fatal(err)
		}
		if err := Random(b); err != nil {
			t.Fatal(err)
		}
		if n >= 16 && bytes.Equal(a, b) {
			t.Errorf("two reads of %d random bytes are equal: %x", n, a)
		}
	}
}
