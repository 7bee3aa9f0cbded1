package machinenet

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePort(t *testing.T) {
	tests := []struct {
		in   string
		want Forward
		err  bool
	}{
		{"80", Forward{"web", "tcp", 80, 80}, false},
		{"8080:80", Forward{"web", "tcp", 8080, 80}, false},
		{"tcp:8080:80", Forward{"web", "tcp", 8080, 80}, false},
		{"udp:53", Forward{"web", "udp", 53, 53}, false},
		{"udp:5353:53", Forward{"web", "udp", 5353, 53}, false},
		{"sctp:1", Forward{}, true},
		{"0", Forward{}, true},
		{"1:0", Forward{}, true},
		{"65536", Forward{}, true},
		{"", Forward{}, true},
		{"tcp:", Forward{}, true},
		{"1:2:3", Forward{}, true},
		{"-1", Forward{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePort("web", tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("ParsePort(%q) error %v, want error %v", tt.in, err, tt.err)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePort(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		f    Forward
		ok   bool
	}{
		{"good", Forward{"web", "tcp", 1, 2}, true},
		{"bad machine", Forward{"-web", "tcp", 1, 2}, false},
		{"empty machine", Forward{"", "tcp", 1, 2}, false},
		{"bad proto", Forward{"web", "TCP", 1, 2}, false},
		{"host port 0", Forward{"web", "udp", 0, 2}, false},
		{"container port 0", Forward{"web", "udp", 1, 0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate(%+v) = %v, want ok %v", tt.f, err, tt.ok)
			}
		})
	}
}

func TestParsePortsFile(t *testing.T) {
	got, err := parsePortsFile("web", []byte("# requested with -p\n80\n\nudp:5353:53\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Forward{{"web", "tcp", 80, 80}, {"web", "udp", 5353, 53}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := parsePortsFile("web", []byte("80\nnope\n")); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad line: %v, want ErrInvalid", err)
	}
}

func FuzzParsePortsFile(f *testing.F) {
	for _, s := range []string{"80", "tcp:8080:80\nudp:53", "# c\n\n1:2", "sctp:1", "1:2:3", "65536"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := parsePortsFile("web", data)
		for _, fw := range fs {
			if err == nil && fw.Validate() != nil {
				t.Fatalf("parsed an invalid forward %+v", fw)
			}
		}
	})
}
