package capset

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Set
		wantErr error
	}{
		{"", 0, nil},
		{"CAP_CHOWN", 1, nil},
		{"cap_net_admin,CAP_CHOWN", 1<<12 | 1, nil},
		{"12", 1 << 12, nil},
		{"all", All, nil},
		{"CAP_NOPE", 0, ErrUnknown},
		{"NET_ADMIN", 0, ErrUnknown},
		{"41", 0, ErrUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Parse(%q) err = %v, want %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Parse(%q) = %#x, want %#x", tc.in, got, tc.want)
			}
		})
	}
}

func TestDefaultMatchesNspawn(t *testing.T) {
	// The mask systemd-nspawn 252 shows as CapBnd with every capability
	// available on the host.
	if Default != 0xfdecafff {
		t.Errorf("Default = %#x, want 0xfdecafff", uint64(Default))
	}
	if diff := cmp.Diff([]string{"CAP_CHOWN", "CAP_NET_ADMIN"}, Set(1|NetAdmin).Names()); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "all", "CAP_CHOWN,12", "cap_bpf, cap_kill"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := Parse(s)
		if err == nil && set&^All != 0 {
			t.Errorf("Parse(%q) = %#x outside All", s, set)
		}
	})
}

func TestDefaultIsNspawns(t *testing.T) {
	want, err := Parse("CAP_AUDIT_CONTROL,CAP_AUDIT_WRITE,CAP_CHOWN,CAP_DAC_OVERRIDE," +
		"CAP_DAC_READ_SEARCH,CAP_FOWNER,CAP_FSETID,CAP_IPC_OWNER,CAP_KILL,CAP_LEASE," +
		"CAP_LINUX_IMMUTABLE,CAP_MKNOD,CAP_NET_BIND_SERVICE,CAP_NET_BROADCAST,CAP_NET_RAW," +
		"CAP_SETFCAP,CAP_SETGID,CAP_SETPCAP,CAP_SETUID,CAP_SYS_ADMIN,CAP_SYS_BOOT," +
		"CAP_SYS_CHROOT,CAP_SYS_NICE,CAP_SYS_PTRACE,CAP_SYS_RESOURCE,CAP_SYS_TTY_CONFIG")
	if err != nil {
		t.Fatal(err)
	}
	if Default != want {
		t.Errorf("Default = %#x, want %#x (%s)", uint64(Default), uint64(want), want)
	}
}

func TestNumbers(t *testing.T) {
	tests := []struct {
		in   Set
		want []uintptr
	}{
		{0, []uintptr{}},
		{1, []uintptr{0}},
		{NetAdmin | 1<<13 | 1<<40, []uintptr{12, 13, 40}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, tc.in.Numbers()); diff != "" {
			t.Errorf("Numbers(%#x) (-want +got):\n%s", uint64(tc.in), diff)
		}
	}
}
