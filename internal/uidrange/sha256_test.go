package uidrange

import (
	"crypto/sha256"
	"strings"
	"testing"
)

func TestSum256(t *testing.T) {
	for _, s := range []string{"", "abc", "berth uid range\x00alpha", strings.Repeat("a", 55), strings.Repeat("b", 56),
		strings.Repeat("c", 64), strings.Repeat("d", 1000)} {
		if got, want := sum256([]byte(s)), sha256.Sum256([]byte(s)); got != want {
			t.Errorf("sum256(%d bytes) = %x, want %x", len(s), got, want)
		}
	}
}

func FuzzSum256(f *testing.F) {
	f.Add([]byte("berth uid range\x00beta"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := sum256(b), sha256.Sum256(b); got != want {
			t.Errorf("sum256(%x) = %x, want %x", b, got, want)
		}
	})
}
