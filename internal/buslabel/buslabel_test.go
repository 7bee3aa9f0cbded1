package buslabel

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The vectors are sd-bus's test-bus-marshal.c plus machined's .host.
var vectors = []struct{ in, label string }{
	{"foo.bar", "foo_2ebar"},
	{"foo_2ebar", "foo_5f2ebar"},
	{"_", "_5f"},
	{"1", "_31"},
	{":1", "_3a1"},
	{"", "_"},
	{".host", "_2ehost"},
	{"a-b", "a_2db"},
	{"a_2db", "a_5f2db"},
	{"fooBAR9", "fooBAR9"},
	{"\xff\x00", "_ff_00"},
}

func TestEscape(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.in, func(t *testing.T) {
			if diff := cmp.Diff(v.label, Escape(v.in)); diff != "" {
				t.Errorf("Escape(%q) (-want +got):\n%s", v.in, diff)
			}
			if diff := cmp.Diff(v.in, Unescape(v.label)); diff != "" {
				t.Errorf("Unescape(%q) (-want +got):\n%s", v.label, diff)
			}
		})
	}
}

func TestUnescapeInvalidKept(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a_", "a_"},
		{"a_2", "a_2"},
		{"a_zz", "a_zz"},
		{"_2E", "."},
		{"_2", "_2"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, Unescape(tt.in)); diff != "" {
			t.Errorf("Unescape(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.in)
		f.Add(v.label)
	}
	f.Fuzz(func(t *testing.T, s string) {
		label := Escape(s)
		if got := Unescape(label); got != s {
			t.Fatalf("Unescape(Escape(%q)) = %q", s, got)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !isAlpha(c) && !isDigit(c) && c != '_' {
				t.Fatalf("Escape(%q) = %q has byte %q", s, label, c)
			}
		}
		if isDigit(label[0]) {
			t.Fatalf("Escape(%q) = %q starts with a digit", s, label)
		}
		_ = Unescape(s)
	})
}

// TestAppendEscape checks that AppendEscape appends what Escape returns,
// after what the buffer held, and allocates nothing when it has room.
func TestAppendEscape(t *testing.T) {
	for _, v := range vectors {
		if got := string(AppendEscape([]byte("/p/"), v.in)); got != "/p/"+v.label {
			t.Errorf("AppendEscape(%q) = %q, want %q", v.in, got, "/p/"+v.label)
		}
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = AppendEscape(buf[:0], "a-b.c_d") }); n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}

// TestEscapeAllocs checks that Escape allocates its result only.
func TestEscapeAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = Escape("a-b.c_d") }); n != 1 {
		t.Errorf("%v allocations, want 1", n)
	}
}
