package chownshift

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func acl(entries ...[3]uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, aclVersion)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
		b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
		b = binary.LittleEndian.AppendUint32(b, e[2])
	}
	return b
}

func TestShiftACL(t *testing.T) {
	const undef = 0xFFFFFFFF
	tests := []struct {
		name    string
		in      []byte
		to      uint32
		want    []byte
		wantErr bool
	}{
		{
			name: "user and group entries move",
			in:   acl([3]uint32{0x01, 7, undef}, [3]uint32{aclTagUser, 7, 1234}, [3]uint32{aclTagGroup, 5, 2345}, [3]uint32{0x10, 7, undef}),
			to:   0x80000,
			want: acl([3]uint32{0x01, 7, undef}, [3]uint32{aclTagUser, 7, 0x80000 + 1234}, [3]uint32{aclTagGroup, 5, 0x80000 + 2345}, [3]uint32{0x10, 7, undef}),
		},
		{
			name: "back to zero",
			in:   acl([3]uint32{aclTagUser, 7, 0x80000 + 1234}),
			to:   0,
			want: acl([3]uint32{aclTagUser, 7, 1234}),
		},
		{name: "header only", in: acl(), to: 0x80000, want: acl()},
		{name: "short", in: []byte{2, 0}, wantErr: true},
		{name: "ragged", in: append(acl(), 1, 2, 3), wantErr: true},
		{name: "version", in: []byte{1, 0, 0, 0}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := shiftACL(tc.in, tc.to)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("shiftACL (-want +got):\n%s", d)
			}
		})
	}
}

func caps(rev uint32, rootid *uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, rev|1)
	b = binary.LittleEndian.AppendUint32(b, 1<<13)
	b = append(b, make([]byte, 12)...)
	if rootid != nil {
		b = binary.LittleEndian.AppendUint32(b, *rootid)
	}
	return b
}

func ptr(v uint32) *uint32 { return &v }

func TestShiftCaps(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		to      uint32
		want    []byte
		wantErr bool
	}{
		{name: "v2 unchanged", in: caps(capRev2, nil), to: 0x80000, want: caps(capRev2, nil)},
		{name: "v3 rootid moves", in: caps(capRev3, ptr(1000)), to: 0x80000, want: caps(capRev3, ptr(0x80000+1000))},
		{name: "v3 back", in: caps(capRev3, ptr(0x90000)), to: 0, want: caps(capRev3, ptr(0))},
		{name: "v3 wrong size", in: caps(capRev3, nil), wantErr: true},
		{name: "v1", in: []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, wantErr: true},
		{name: "short", in: []byte{1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := shiftCaps(tc.in, tc.to)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("shiftCaps (-want +got):\n%s", d)
			}
		})
	}
}

func TestStateOf(t *testing.T) {
	tests := []struct {
		name     string
		uid, gid uint32
		want     State
		wantErr  error
	}{
		{"host", 0, 0, State{}, nil},
		{"shifted", 0x80000, 0x80005, State{Shift: 0x80000}, nil},
		{"busy", 0xFFFE0000, 0xFFFE0000, State{Shift: BusyBase, Busy: true}, nil},
		{"mixed", 0x80000, 0, State{}, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := stateOf(tc.uid, tc.gid)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestValidTarget(t *testing.T) {
	tests := []struct {
		to uint32
		ok bool
	}{{0, true}, {0x80000, true}, {0xFFFD0000, true}, {0x80001, false}, {BusyBase, false}, {0xFFFF0000, false}}
	for _, tc := range tests {
		if err := validTarget(tc.to); (err == nil) != tc.ok {
			t.Errorf("validTarget(%#x) = %v, want ok %v", tc.to, err, tc.ok)
		}
	}
}

func FuzzShiftACL(f *testing.F) {
	f.Add(acl([3]uint32{aclTagUser, 7, 1234}), uint32(0x80000))
	f.Add([]byte{2, 0, 0, 0, 1}, uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, to uint32) {
		to &^= 0xFFFF
		out, err := shiftACL(b, to)
		if err != nil {
			return
		}
		if len(out) != len(b) {
			t.Fatalf("length changed: %d -> %d", len(b), len(out))
		}
		again, err := shiftACL(out, to)
		if err != nil || !cmp.Equal(again, out) {
			t.Fatalf("shift not idempotent: %x -> %x (%v)", out, again, err)
		}
	})
}

func FuzzShiftCaps(f *testing.F) {
	f.Add(caps(capRev3, ptr(1000)), uint32(0x80000))
	f.Add(caps(capRev2, nil), uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, to uint32) {
		to &^= 0xFFFF
		out, err := shiftCaps(b, to)
		if err != nil {
			return
		}
		if len(out) != len(b) || !cmp.Equal(out[:capV2Size], b[:capV2Size]) {
			t.Fatalf("more than the root ID changed: %x -> %x", b, out)
		}
	})
}

func TestPendingRoundTrip(t *testing.T) {
	tests := []pending{
		{path: "usr/bin/passwd", mode: 04755},
		{path: "ping", mode: 0755, caps: caps(capRev2, nil)},
		{path: "a/b c/d", mode: 06711, caps: caps(capRev3, ptr(0x80000))},
	}
	for _, p := range tests {
		got, err := parsePending(p.marshal())
		if err != nil {
			t.Fatalf("%q: %v", p.path, err)
		}
		if d := cmp.Diff(p, got, cmp.AllowUnexported(pending{})); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
	}
}

func TestParsePendingRejects(t *testing.T) {
	tests := map[string][]byte{
		"empty":    nil,
		"magic":    []byte("berth-shift-v0\x00\x00\x00\x00\x00\x00\x00\x00\x00x"),
		"absolute": pending{path: "/etc/shadow", mode: 0o644}.marshal(),
		"dotdot":   pending{path: "../x", mode: 0o644}.marshal(),
		"unclean":  pending{path: "a/../../x", mode: 0o644}.marshal(),
		"no path":  pending{mode: 0o644}.marshal(),
		"mode":     pending{path: "x", mode: 0o100644}.marshal(),
		"caps len": append([]byte(journalMagic), 0, 0, 0, 0, 0xff, 0, 0, 0, 'x'),
	}
	for name, b := range tests {
		if p, err := parsePending(b); err == nil {
			t.Errorf("%s: accepted %+v", name, p)
		}
	}
}

func FuzzParsePending(f *testing.F) {
	f.Add(pending{path: "usr/bin/passwd", mode: 04755}.marshal())
	f.Add(pending{path: "ping", mode: 0755, caps: caps(capRev2, nil)}.marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePending(b)
		if err != nil {
			return
		}
		if p.path == "" || p.path[0] == '/' || p.path == ".." || strings.HasPrefix(p.path, "../") {
			t.Fatalf("accepted path %q", p.path)
		}
	})
}
