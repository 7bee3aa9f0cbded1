package containercgroup

import (
	"errors"
	"strings"
	"testing"
)

func TestUnifiedPath(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        error
	}{
		{"hybrid", "9:name=systemd:/\n4:memory:/x\n0::/machine.slice/a\n", "/machine.slice/a", nil},
		{"unified", "0::/\n", "/", nil},
		{"v1 only", "9:name=systemd:/\n", "", ErrNoCgroup2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := UnifiedPath(strings.NewReader(tc.in))
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Errorf("UnifiedPath = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestScopeName(t *testing.T) {
	tests := map[string]string{
		"foo":     "machine-foo.scope",
		"foo-bar": `machine-foo\x2dbar.scope`,
		"a.b":     "machine-a.b.scope",
	}
	for in, want := range tests {
		if got := ScopeName(in); got != want {
			t.Errorf("ScopeName(%q) = %q, want %q", in, got, want)
		}
	}
}
