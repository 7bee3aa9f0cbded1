package idmap

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/uidrange"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		ms   []Mapping
		ok   bool
	}{
		{"one", []Mapping{{0, 0x80000, 0x10000}}, true},
		{"two disjoint", []Mapping{{0, 0x80000, 10}, {10, 0x90000, 10}}, true},
		{"none", nil, false},
		{"empty extent", []Mapping{{0, 1, 0}}, false},
		{"inner overlap", []Mapping{{0, 0x80000, 10}, {5, 0x90000, 10}}, false},
		{"outer overlap", []Mapping{{0, 0x80000, 10}, {100, 0x80005, 10}}, false},
		{"wraps", []Mapping{{0, 0xFFFFFFF0, 0x10}}, false},
		{"too many", []Mapping{{0, 100, 1}, {1, 101, 1}, {2, 102, 1}, {3, 103, 1}, {4, 104, 1}, {5, 105, 1}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Validate(tc.ms); (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestBindMappings(t *testing.T) {
	r := uidrange.Range{Base: 0x80000, Size: 0x10000}
	tests := []struct {
		name    string
		b       Bind
		want    []Mapping
		wantErr error
	}{
		{"plain", Bind{Kind: BindPlain}, nil, nil},
		{"idmap", Bind{Kind: BindIdmap}, []Mapping{{0, 0x80000, 0x10000}}, nil},
		{"rootidmap", Bind{Kind: BindRootIdmap, Owner: 1000}, []Mapping{{1000, 0x80000, 1}}, nil},
		{"custom", Bind{Kind: BindCustom, Host: 1000, Container: 5, Size: 2}, []Mapping{{1000, 0x80005, 2}}, nil},
		{"custom past range", Bind{Kind: BindCustom, Host: 1000, Container: 0xFFFF, Size: 2}, nil, ErrInvalid},
		{"custom empty", Bind{Kind: BindCustom, Host: 1000}, nil, ErrInvalid},
		{"unknown", Bind{Kind: 99}, nil, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := BindMappings(r, tc.b)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("BindMappings (-want +got):\n%s", d)
			}
		})
	}
}
