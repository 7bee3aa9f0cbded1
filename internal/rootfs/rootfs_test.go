package rootfs

import "testing"

func TestValidID(t *testing.T) {
	tests := map[string]string{
		"0123456789abcdef0123456789abcdef": "0123456789abcdef0123456789abcdef",
		"00000000000000000000000000000000": "",
		"uninitialized":                    "",
		"0123456789ABCDEF0123456789abcdef": "",
		"":                                 "",
	}
	for in, want := range tests {
		if got := ValidID(in); got != want {
			t.Errorf("ValidID(%q) = %q, want %q", in, got, want)
		}
	}
}
