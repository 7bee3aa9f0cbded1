package passwd

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const passwdFile = "root:x:0:0:root:/root:/bin/sh\n" +
	"bad line\n" +
	"daemon:x:1:1:daemon:/usr/sbin:/bin/false\n" +
	"alice:x:1000:1000::/home/alice:/bin/sh\n"

const groupFile = "root:x:0:\nwheel:x:10:alice,bob\naudio:x:29:bob\nalice:x:1000:alice\n"

func TestLookup(t *testing.T) {
	tests := []struct {
		name    string
		want    User
		wantErr error
	}{
		{"root", User{Name: "root", Home: "/root", Shell: "/bin/sh"}, nil},
		{"alice", User{Name: "alice", UID: 1000, GID: 1000, Home: "/home/alice", Shell: "/bin/sh", Groups: []uint32{10}}, nil},
		{"1", User{Name: "daemon", UID: 1, GID: 1, Home: "/usr/sbin", Shell: "/bin/false"}, nil},
		{"nobody", User{}, ErrNoUser},
		{"bad line", User{}, ErrNoUser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Lookup(tc.name, strings.NewReader(passwdFile), strings.NewReader(groupFile))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Lookup (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzLookup(f *testing.F) {
	f.Add("alice", passwdFile, groupFile)
	f.Add("0", "::::::\n", ":::\n")
	f.Fuzz(func(t *testing.T, name, p, g string) {
		u, err := Lookup(name, strings.NewReader(p), strings.NewReader(g))
		if err == nil && u.Name != name && strings.Contains(name, ":") {
			t.Errorf("Lookup(%q) matched %q", name, u.Name)
		}
	})
}
