package unitfile

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var parseTests = []struct {
	name string
	in   string
	want *File
	err  bool
}{
	{name: "empty", in: "", want: &File{}},
	{
		name: "sections and repeated keys",
		in:   "# c\n[Unit]\nDescription = Container %i \n\n[Service]\n; c\nDeviceAllow=a rw\nDeviceAllow=b rw\n",
		want: &File{Sections: []Section{
			{Name: "Unit", Entries: []Entry{{"Description", "Container %i"}}},
			{Name: "Service", Entries: []Entry{{"DeviceAllow", "a rw"}, {"DeviceAllow", "b rw"}}},
		}},
	},
	{
		name: "continuation skips comments",
		in:   "[Service]\nExecStart=/bin/x \\\n# inner comment\n  --a \\\n  --b\n",
		want: &File{Sections: []Section{{Name: "Service", Entries: []Entry{{"ExecStart", "/bin/x  --a  --b"}}}}},
	},
	{
		name: "crlf and empty value",
		in:   "[Service]\r\nEnvironment=\r\n",
		want: &File{Sections: []Section{{Name: "Service", Entries: []Entry{{"Environment", ""}}}}},
	},
	{name: "continuation at end of file", in: "[S]\nA=b\\", want: &File{Sections: []Section{{Name: "S", Entries: []Entry{{"A", "b"}}}}}},
	{name: "outside section", in: "A=b\n", err: true},
	{name: "no equals", in: "[S]\nAb\n", err: true},
	{name: "bad header", in: "[S\n", err: true},
	{name: "empty header", in: "[]\n", err: true},
	{name: "bad key", in: "[S]\nA b=c\n", err: true},
	{name: "empty key", in: "[S]\n=c\n", err: true},
	{name: "nul", in: "[S]\nA=\x00\n", err: true},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if tt.err {
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("Parse = %v, want ErrSyntax", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValues(t *testing.T) {
	f, err := Parse([]byte("[Service]\nEnvironment=A=1\n[Unit]\nX=y\n[Service]\nEnvironment=\nEnvironment=B=2\nEnvironment=C=3\nType=simple\nType=notify\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		section, key string
		want         []string
	}{
		{"Service", "Environment", []string{"B=2", "C=3"}},
		{"Service", "Type", []string{"simple", "notify"}},
		{"Service", "Missing", nil},
		{"Nope", "X", nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, f.Values(tt.section, tt.key)); diff != "" {
			t.Errorf("Values(%s, %s) (-want +got):\n%s", tt.section, tt.key, diff)
		}
	}
	if v, ok := f.Value("Service", "Type"); v != "notify" || !ok {
		t.Errorf("Value(Type) = %q, %v; want notify, true", v, ok)
	}
	if diff := cmp.Diff([]string{"Environment", "Type"}, f.Keys("Service")); diff != "" {
		t.Errorf("Keys (-want +got):\n%s", diff)
	}
}

func TestAddAndBytes(t *testing.T) {
	f := &File{}
	for _, e := range []struct{ s, k, v string }{
		{"Unit", "Description", "x"}, {"Service", "A", "1"}, {"Unit", "After", "y"},
	} {
		if err := f.Add(e.s, e.k, e.v); err != nil {
			t.Fatal(err)
		}
	}
	want := "[Unit]\nDescription=x\nAfter=y\n\n[Service]\nA=1\n"
	if diff := cmp.Diff(want, string(f.Bytes())); diff != "" {
		t.Errorf("Bytes (-want +got):\n%s", diff)
	}
	for _, bad := range []struct{ s, k, v string }{
		{"", "A", "1"}, {"S", "A B", "1"}, {"S", "A", "1\n[X]"}, {"S", "A", " 1"}, {"S", "A", `1\`},
	} {
		if err := f.Add(bad.s, bad.k, bad.v); !errors.Is(err, ErrSyntax) {
			t.Errorf("Add(%q, %q, %q) = %v, want ErrSyntax", bad.s, bad.k, bad.v, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		again, err := Parse(p.Bytes())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", p.Bytes(), err)
		}
		if diff := cmp.Diff(p, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
