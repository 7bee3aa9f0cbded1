package enter

import (
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		r    Request
		ok   bool
	}{
		{"good", Request{Argv: []string{"/bin/sh", "-l"}, Env: []string{"TERM=vt220"}}, true},
		{"relative program", Request{Argv: []string{"sh"}}, false},
		{"no program", Request{}, false},
		{"nul in arg", Request{Argv: []string{"/bin/sh", "a\x00b"}}, false},
		{"bad env", Request{Argv: []string{"/bin/sh"}, Env: []string{"NOEQUALS"}}, false},
		{"empty env key", Request{Argv: []string{"/bin/sh"}, Env: []string{"=x"}}, false},
		{"relative dir", Request{Argv: []string{"/bin/sh"}, Dir: "tmp"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate()
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Fatalf("Validate = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestNsenterArgs(t *testing.T) {
	f := os.Stdin
	ns := &Namespaces{Mount: f, UTS: f, IPC: f, Net: f, PID: f, Cgroup: f, Root: f}
	args, extra := nsenterArgs(ns, Request{Argv: []string{"/bin/echo", "hi"}, UID: 1000, GID: 100})
	want := []string{"--mount=/proc/self/fd/3", "--uts=/proc/self/fd/4", "--ipc=/proc/self/fd/5", "--net=/proc/self/fd/6",
		"--pid=/proc/self/fd/7", "--cgroup=/proc/self/fd/8", "--root=/proc/self/fd/9", "--wdns=/",
		"--setuid=1000", "--setgid=100", "--", "/bin/echo", "hi"}
	if diff := cmp.Diff(want, args); diff != "" || len(extra) != 7 {
		t.Errorf("nsenterArgs (-want +got):\n%s (%d files)", diff, len(extra))
	}
	ns.User = f
	args, _ = nsenterArgs(ns, Request{Argv: []string{"/bin/sh"}})
	if args[0] != "--user=/proc/self/fd/3" {
		t.Errorf("user namespace not entered first: %v", args)
	}
}

func TestParseUser(t *testing.T) {
	data := []byte("root:x:0:0:root:/root:/bin/sh\nbroken:x:a:b:::\nshort:x:1\nalice:x:1000:100:Alice:/home/alice:/bin/ash\n")
	tests := []struct {
		name string
		want User
		err  error
	}{
		{"root", User{"root", 0, 0, "/root", "/bin/sh"}, nil},
		{"alice", User{"alice", 1000, 100, "/home/alice", "/bin/ash"}, nil},
		{"broken", User{}, ErrNoUser},
		{"nobody", User{}, ErrNoUser},
		{"a:b", User{}, ErrInvalid},
		{"", User{}, ErrInvalid},
	}
	for _, tt := range tests {
		got, err := ParseUser(data, tt.name)
		if !errors.Is(err, tt.err) {
			t.Errorf("ParseUser(%q) error = %v, want %v", tt.name, err, tt.err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseUser(%q) (-want +got):\n%s", tt.name, diff)
		}
	}
}

func FuzzParseUser(f *testing.F) {
	f.Add([]byte("root:x:0:0:root:/root:/bin/sh\n"), "root")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		u, err := ParseUser(data, name)
		if err == nil && u.Name != name {
			t.Fatalf("ParseUser returned %q for %q", u.Name, name)
		}
	})
}
