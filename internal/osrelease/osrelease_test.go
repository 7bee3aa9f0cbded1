package osrelease

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var parseTests = []struct {
	name string
	in   string
	want map[string]string
	err  error
}{
	{"debian", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
		map[string]string{"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "ID": "debian", "VERSION_ID": "12"}, nil},
	{"comments and blanks", "# c\n\n  ID=x  \n", map[string]string{"ID": "x"}, nil},
	{"single quotes", "NAME='a \"b\" $c'\n", map[string]string{"NAME": `a "b" $c`}, nil},
	{"escapes", `NAME="a\"b\\c\$d\x"`, map[string]string{"NAME": `a"b\c$d\x`}, nil},
	{"concatenation", `NAME=a"b c"'d'`, map[string]string{"NAME": "ab cd"}, nil},
	{"later wins", "ID=a\nID=b\n", map[string]string{"ID": "b"}, nil},
	{"empty value", "ID=\n", map[string]string{"ID": ""}, nil},
	{"no equals", "garbage\n", nil, ErrSyntax},
	{"bad key", "1ID=x\n", nil, ErrSyntax},
	{"bad key char", "I-D=x\n", nil, ErrSyntax},
	{"unterminated double", "ID=\"x\n", nil, ErrSyntax},
	{"unterminated single", "ID='x\n", nil, ErrSyntax},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("Parse error = %v, want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTooBig(t *testing.T) {
	if _, err := Parse(make([]byte, MaxSize+1)); err == nil {
		t.Fatal("Parse of an oversized file succeeded")
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err == nil && m == nil {
			t.Fatal("nil map without error")
		}
	})
}
