package uidrange

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCandidates(t *testing.T) {
	tests := []struct {
		name    string
		win     window
		machine string
		count   int
	}{
		{"full window", window{MinBase, MaxBase}, "web", 28664},
		{"small window", window{MinBase, MinBase + 4*Size}, "db", 5},
		{"single base", window{MinBase, MinBase}, "x", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := slices.Collect(tc.win.candidates(tc.machine))
			if len(c) != tc.count {
				t.Fatalf("len = %d, want %d", len(c), tc.count)
			}
			if c[0] != tc.win.first(tc.machine) {
				t.Errorf("first candidate %#x is not the stable one %#x", c[0], tc.win.first(tc.machine))
			}
			seen := map[uint32]bool{}
			for _, b := range c {
				if !tc.win.holds(b) || seen[b] {
					t.Fatalf("candidate %#x outside window, unaligned or repeated", b)
				}
				seen[b] = true
			}
		})
	}
}

// TestFirstIsStable pins the first candidates: changing the hash would
// move every machine to a new range on upgrade.
func TestFirstIsStable(t *testing.T) {
	w := window{MinBase, MaxBase}
	for name, want := range map[string]uint32{"alpha": 0x42160000, "beta": 0x205b0000} {
		if got := w.first(name); got != want {
			t.Errorf("first(%q) = %#x, want %#x", name, got, want)
		}
	}
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name     string
		cands    []uint32
		recorded uint32
		hasRec   bool
		others   map[uint32]bool
		want     []uint32
	}{
		{"plain", []uint32{1, 2, 3}, 0, false, nil, []uint32{1, 2, 3}},
		{"record first", []uint32{1, 2, 3}, 3, true, nil, []uint32{3, 1, 2}},
		{"others last", []uint32{1, 2, 3}, 0, false, map[uint32]bool{1: true}, []uint32{2, 3, 1}},
		{"both", []uint32{1, 2, 3}, 2, true, map[uint32]bool{1: true}, []uint32{2, 3, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := slices.Collect(order(slices.Values(tc.cands), tc.recorded, tc.hasRec, func() map[uint32]bool { return tc.others }))
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("order (-want +got):\n%s", d)
			}
		})
	}
}

// TestOrderLazy checks that a start taking its recorded base neither
// reads the other machines' records nor goes over the window.
func TestOrderLazy(t *testing.T) {
	made := 0
	cands := func(yield func(uint32) bool) {
		for b := uint32(1); b <= 3; b++ {
			made++
			if !yield(b) {
				return
			}
		}
	}
	read := false
	for b := range order(cands, 2, true, func() map[uint32]bool { read = true; return nil }) {
		if b != 2 {
			t.Errorf("first base %d, want the recorded 2", b)
		}
		break
	}
	if read || made != 0 {
		t.Errorf("records read %v, %d candidates made; want neither", read, made)
	}
}

func TestCollides(t *testing.T) {
	ids := []uint32{0, 1000, 0x90000, 0xAFFFE}
	tests := []struct {
		base uint32
		want bool
	}{
		{0x80000, false},
		{0x90000, true},
		{0xA0000, true},
		{0xB0000, false},
	}
	for _, tc := range tests {
		if got := collides(ids, tc.base); got != tc.want {
			t.Errorf("collides(%#x) = %v, want %v", tc.base, got, tc.want)
		}
	}
}

func TestParseAccounts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []uint32
	}{
		{"passwd", "root:x:0:0:root:/root:/bin/sh\nbin:x:2:2::/:/x\n", []uint32{0, 2}},
		{"group", "root:x:0:\nuser:x:589824:a,b\n", []uint32{0, 589824}},
		{"junk", "# c\n\n+nis\n-x:y:3:3\nshort:x\nbad:x:-1:\nbig:x:4294967296:\nok:x:7:\n", []uint32{7}},
		{"dup", "a:x:5:\nb:x:5:\n", []uint32{5}},
		{"empty", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAccounts(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ParseAccounts (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseRecord(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Range
		wantErr error
	}{
		{"ok", "BASE=524288\nSIZE=65536\n", Range{524288, 65536}, nil},
		{"no newline", "SIZE=1\nBASE=7", Range{7, 1}, nil},
		{"unknown key", "BASE=1\nSIZE=1\nX=1\n", Range{}, ErrInvalid},
		{"missing size", "BASE=1\n", Range{}, ErrInvalid},
		{"not a number", "BASE=a\nSIZE=1\n", Range{}, ErrInvalid},
		{"empty range", "BASE=1\nSIZE=0\n", Range{}, ErrInvalid},
		{"wraps", "BASE=4294967295\nSIZE=2\n", Range{}, ErrInvalid},
		{"empty", "", Range{}, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRecord([]byte(tc.in))
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRangeMapping(t *testing.T) {
	r := Range{0x80000, Size}
	tests := []struct {
		name    string
		fn      func(uint32) (uint32, bool)
		in, out uint32
		ok      bool
	}{
		{"to machine root", r.ToMachine, 0x80000, 0, true},
		{"to machine last", r.ToMachine, 0x8FFFF, 0xFFFF, true},
		{"to machine outside", r.ToMachine, 0x90000, 0, false},
		{"from machine root", r.FromMachine, 0, 0x80000, true},
		{"from machine outside", r.FromMachine, 0x10000, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, ok := tc.fn(tc.in)
			if out != tc.out || ok != tc.ok {
				t.Errorf("got %#x %v, want %#x %v", out, ok, tc.out, tc.ok)
			}
		})
	}
	if !r.Overlaps(Range{0x8FFFF, 1}) || r.Overlaps(Range{0x90000, 5}) {
		t.Error("Overlaps is wrong at the edge")
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte("BASE=524288\nSIZE=65536\n"))
	f.Add([]byte("BASE=1\nSIZE=0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			return
		}
		back, err := ParseRecord(FormatRecord(r))
		if err != nil || back != r {
			t.Fatalf("round trip of %v: %v %v", r, back, err)
		}
	})
}

func FuzzParseAccounts(f *testing.F) {
	f.Add("root:x:0:0:root:/root:/bin/sh\n")
	f.Add("# c\n+nis\nbad:x:-1:\n")
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := ParseAccounts(strings.NewReader(s))
		if err != nil {
			return
		}
		for i := 1; i < len(ids); i++ {
			if ids[i-1] >= ids[i] {
				t.Fatalf("ids not sorted and unique: %v", ids)
			}
		}
	})
}
