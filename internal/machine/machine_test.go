package machine

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSpecValidate(t *testing.T) {
	good := Spec{Name: "foo", ID: make([]byte, 16), Service: "nspawn", Class: ClassContainer, Leader: 42,
		RootDirectory: "/var/lib/machines/foo", NetworkInterfaces: []int32{3}}
	tests := []struct {
		name   string
		change func(*Spec)
		ok     bool
	}{
		{"good", func(*Spec) {}, true},
		{"no id, no class, no root", func(s *Spec) { s.ID, s.Class, s.RootDirectory = nil, "", "" }, true},
		{"vm", func(s *Spec) { s.Class = ClassVM }, true},
		{"empty name", func(s *Spec) { s.Name = "" }, false},
		{"dot host", func(s *Spec) { s.Name = ".host" }, false},
		{"underscore", func(s *Spec) { s.Name = "a_b" }, false},
		{"slash", func(s *Spec) { s.Name = "a/b" }, false},
		{"dotdot", func(s *Spec) { s.Name = "../x" }, false},
		{"newline", func(s *Spec) { s.Name = "a\nb" }, false},
		{"65 bytes", func(s *Spec) { s.Name = strings.Repeat("a", 65) }, false},
		{"rtl override", func(s *Spec) { s.Name = "a\u202eb" }, false},
		{"id 15 bytes", func(s *Spec) { s.ID = make([]byte, 15) }, false},
		{"class host", func(s *Spec) { s.Class = ClassHost }, false},
		{"class bogus", func(s *Spec) { s.Class = "pod" }, false},
		{"leader 0", func(s *Spec) { s.Leader = 0 }, false},
		{"leader 1", func(s *Spec) { s.Leader = 1 }, false},
		{"leader self", func(s *Spec) { s.Leader = 7 }, false},
		{"relative root", func(s *Spec) { s.RootDirectory = "var/lib" }, false},
		{"huge root", func(s *Spec) { s.RootDirectory = "/" + strings.Repeat("a", MaxPathLen) }, false},
		{"ifindex 0", func(s *Spec) { s.NetworkInterfaces = []int32{0} }, false},
		{"ifindex negative", func(s *Spec) { s.NetworkInterfaces = []int32{-1} }, false},
		{"too many interfaces", func(s *Spec) { s.NetworkInterfaces = make([]int32, MaxInterfaces+1) }, false},
		{"huge service", func(s *Spec) { s.Service = strings.Repeat("s", MaxServiceLen+1) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			tt.change(&s)
			err := s.Validate(7)
			if tt.ok != (err == nil) {
				t.Fatalf("Validate = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, not ErrInvalid", err)
			}
		})
	}
}

var stateRecord = record{
	Machine: Machine{
		Spec: Spec{Name: "foo", ID: []byte("0123456789abcdef"), Service: "svc \"x\"\n", Class: ClassContainer,
			Leader: 1234, RootDirectory: "/var/lib/machines/foo bar", NetworkInterfaces: []int32{3, 7}},
		Unit: "machine-foo.scope", Timestamp: 1700000000000000, TimestampMonotonic: 12345,
	},
	LeaderID: Identity{PidfdID: 99, StartTime: 4242},
}

func TestStateRoundTrip(t *testing.T) {
	got, err := decodeState(encodeState(stateRecord))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stateRecord, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestDecodeStateBad(t *testing.T) {
	good := string(encodeState(stateRecord))
	tests := map[string]string{
		"empty":         "",
		"garbage":       "\x00\x01garbage",
		"unknown key":   good + "EVIL=1\n",
		"duplicate key": good + "LEADER=1\n",
		"missing key":   strings.Replace(good, "NETIF=3 7\n", "", 1),
		"bad number":    strings.Replace(good, "LEADER=1234", "LEADER=-1", 1),
		"bad quote":     strings.Replace(good, `NAME="foo"`, `NAME="foo`, 1),
		"bad hex":       strings.Replace(good, "ID=", "ID=zz", 1),
		"huge":          good + "#" + strings.Repeat("x", maxStateSize),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeState([]byte(in)); !errors.Is(err, ErrBadState) {
				t.Fatalf("decodeState = %v, want ErrBadState", err)
			}
		})
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add(encodeState(stateRecord))
	f.Add([]byte("NAME=\"x\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeState(data)
		if err != nil {
			return
		}
		again, err := decodeState(encodeState(r))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if diff := cmp.Diff(r, again, cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) }),
			cmp.Comparer(func(a, b []int32) bool { return cmp.Equal(append([]int32{}, a...), append([]int32{}, b...)) })); diff != "" {
			t.Fatalf("re-decode differs:\n%s", diff)
		}
	})
}

func TestIDMap(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		shift   uint32
		shiftOK bool
		inner   uint32
		outer   uint32
		mapped  bool
	}{
		{"host", "         0          0 4294967295\n", 0, true, 1000, 1000, true},
		{"userns", "0 524288 65536\n", 524288, true, 1000, 525288, true},
		{"small range", "0 524288 1000\n", 0, false, 1000, 0, false},
		{"not at zero", "1 524288 65536\n", 0, false, 0, 0, false},
		{"two lines", "0 524288 10\n10 600000 65536\n", 0, false, 12, 600002, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseIDMap([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			shift, err := Shift(m)
			if (err == nil) != tt.shiftOK || shift != tt.shift {
				t.Errorf("Shift = %d, %v; want %d ok %v", shift, err, tt.shift, tt.shiftOK)
			}
			out, ok := ToOuter(m, tt.inner)
			if ok != tt.mapped || out != tt.outer {
				t.Errorf("ToOuter(%d) = %d, %v; want %d, %v", tt.inner, out, ok, tt.outer, tt.mapped)
			}
			if ok {
				if in, ok := ToInner(m, out); !ok || in != tt.inner {
					t.Errorf("ToInner(%d) = %d, %v", out, in, ok)
				}
			}
		})
	}
	for _, bad := range []string{"0 1\n", "a b c\n", "0 0 99999999999\n"} {
		if _, err := ParseIDMap([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseIDMap(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func FuzzParseIDMap(f *testing.F) {
	f.Add([]byte("0 524288 65536\n"))
	f.Add([]byte("0 0 4294967295\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseIDMap(data)
		if err != nil {
			return
		}
		for _, r := range m {
			if out, ok := ToOuter(m, r.Inner); ok {
				_, _ = ToInner(m, out)
			}
		}
		_, _ = Shift(m)
	})
}
