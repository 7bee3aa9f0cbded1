package names

import (
	"errors"
	"strings"
	"testing"
)

func TestValidMachine(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"foobar", true},
		{"foobar.com", true},
		{"fooBAR", true},
		{"a--b", true},
		{"0", true},
		{strings.Repeat("a", 64), true},
		{"foobar.com.", false},
		{"fööbar", false},
		{"", false},
		{".", false},
		{".foobar", false},
		{"foo..bar", false},
		{"-x", false},
		{"x-", false},
		{"a.-b", false},
		{"a-.b", false},
		{"a_b", false},
		{".host", false},
		{"../x", false},
		{"a/b", false},
		{"a\nb", false},
		{"a\x01b", false},
		{"a\u202eb", false},
		{strings.Repeat("a", 65), false},
	}
	for _, tc := range tests {
		err := ValidMachine(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ValidMachine(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidMachine(%q) error %v does not wrap ErrInvalid", tc.in, err)
		}
	}
}

func TestCleanupHostname(t *testing.T) {
	tests := map[string]string{
		"foo-bar-.-com-.": "foo-bar--com",
		"fööbar":          "fbar",
		"--foo-bar.-com":  "foo-bar.com",
		"a_b":             "ab",
		"...":             "",
		"web.":            "web",
	}
	for in, want := range tests {
		got := CleanupHostname(in)
		if got != want {
			t.Errorf("CleanupHostname(%q) = %q, want %q", in, got, want)
		}
		if got != "" && ValidMachine(got) != nil {
			t.Errorf("CleanupHostname(%q) = %q is not valid", in, got)
		}
	}
	if got := CleanupHostname(strings.Repeat("ab", 100)); len(got) != MaxMachine {
		t.Errorf("long name cleaned to %d bytes, want %d", len(got), MaxMachine)
	}
}

func TestValidImage(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"debian", true},
		{".hidden", true},
		{"with_underscore", true},
		{"fööbar", true},
		{"a b", true},
		{"", false},
		{".", false},
		{"..", false},
		{"../x", false},
		{"a/b", false},
		{".#tmp", false},
		{"a\nb", false},
		{"a\x7fb", false},
		{"a\u202eb", false},
		{"\xff", false},
		{strings.Repeat("a", 256), false},
	}
	for _, tc := range tests {
		err := ValidImage(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ValidImage(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func FuzzValidMachine(f *testing.F) {
	for _, s := range []string{"foobar", "a..b", "-x", "foo-bar-.-com-.", "fööbar"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidMachine(s) == nil && (len(s) > MaxMachine || strings.ContainsAny(s, "/_ \x00")) {
			t.Errorf("accepted %q", s)
		}
		c := CleanupHostname(s)
		if c != "" && ValidMachine(c) != nil {
			t.Errorf("CleanupHostname(%q) = %q, not valid", s, c)
		}
		if ValidImage(s) == nil && (strings.Contains(s, "/") || s == "." || s == "..") {
			t.Errorf("image name %q accepted", s)
		}
	})
}
