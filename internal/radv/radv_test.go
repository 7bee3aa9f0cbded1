package radv

import (
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMessage(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	got, err := Message(Config{Prefix: netip.MustParsePrefix("fd12:3456:789a:1::/64")}, mac)
	if err != nil {
		t.Fatal(err)
	}
	want := "86000000" + "40000708" + "00000000" + "00000000" + // type, hop limit, router lifetime 1800
		"030440c0" + "00015180" + "0000a8c0" + "00000000" + "fd123456789a00010000000000000000" + // prefix info
		"0101020000000001" // source link-layer address
	if diff := cmp.Diff(want, hex.EncodeToString(got)); diff != "" {
		t.Fatalf("-want +got:\n%s", diff)
	}
}

func TestMessageRejects(t *testing.T) {
	for _, p := range []string{"10.0.0.0/24", "fd00::/48", "::ffff:10.0.0.0/120"} {
		if _, err := Message(Config{Prefix: netip.MustParsePrefix(p)}, nil); !errors.Is(err, ErrPrefix) {
			t.Errorf("Message(%s) = %v", p, err)
		}
	}
}

var solicitTests = []struct {
	name string
	b    []byte
	want bool
}{
	{"bare", []byte{133, 0, 0, 0, 0, 0, 0, 0}, true},
	{"with source ll", []byte{133, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 1}, true},
	{"short", []byte{133, 0, 0}, false},
	{"advertisement", []byte{134, 0, 0, 0, 0, 0, 0, 0}, false},
	{"code 1", []byte{133, 1, 0, 0, 0, 0, 0, 0}, false},
	{"zero-length option", []byte{133, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 1}, false},
	{"option past end", []byte{133, 0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 0, 0, 0, 0, 1}, false},
	{"truncated option", []byte{133, 0, 0, 0, 0, 0, 0, 0, 1}, false},
}

func TestIsSolicit(t *testing.T) {
	for _, tt := range solicitTests {
		if got := IsSolicit(tt.b); got != tt.want {
			t.Errorf("%s: IsSolicit = %v", tt.name, got)
		}
	}
}

func FuzzIsSolicit(f *testing.F) {
	for _, tt := range solicitTests {
		f.Add(tt.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { IsSolicit(b) })
}
