package spawn

import (
	"encoding/binary"
	"strings"
	"testing"
)

// fullPlan sets every field of the stage's configuration.
func fullPlan() *stagePlan {
	oom, per := int32(-500), uint32(perLinux32)
	return &stagePlan{
		Flags: flagCgroupNS | flagCgroup | flagConsole | flagAsPID2 | flagChdirFallback, Hostname: "box",
		Argv: []string{"/bin/sh", "-c", "echo hi"}, Env: []string{"PATH=/bin", "HOME=/root"},
		Chdir: "/root", UID: 1000, GID: 1000, Groups: []uint32{5, 27},
		Caps: 0xfcecafff, Ambient: 1 << 10,
		Rlimits:        []stageRlimit{{Resource: 7, Soft: 1024, Hard: 4096}, {Resource: 0, Soft: ^uint64(0), Hard: ^uint64(0)}},
		OOMScoreAdjust: &oom, Affinity: []byte{3, 0, 0, 0, 0, 0, 0, 0}, Personality: &per,
		Filter: make([]byte, 16),
	}
}

func minimalPlan() *stagePlan {
	return &stagePlan{Argv: []string{"/bin/true"}}
}

func mustEncode(t testing.TB, p *stagePlan) []byte {
	t.Helper()
	b, err := p.encode()
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

// record builds one raw record.
func record(tag int, data []byte) []byte {
	b := []byte{byte(tag)}
	b = binary.NativeEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// raw is a configuration built record by record after the magic.
func raw(recs ...[]byte) []byte {
	b := []byte(stageMagic)
	for _, r := range recs {
		b = append(b, r...)
	}
	return b
}

// base are the required records of a valid configuration.
func base() [][]byte {
	return [][]byte{record(tagFlags, u32(0)), record(tagHostname, []byte("h\x00")), record(tagArg, []byte("/bin/true\x00"))}
}

func with(extra ...[]byte) []byte { return raw(append(base(), extra...)...) }

func TestStageConfigAccepted(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
	}{
		{"minimal plan", mustEncode(t, minimalPlan())},
		{"full plan", mustEncode(t, fullPlan())},
		{"required records only", raw(base()...)},
		{"repeated resource limits", with(record(tagRlimit, rlimit(1, 2, 3)), record(tagRlimit, rlimit(2, 2, 3)))},
		{"largest filter", with(record(tagSeccomp, make([]byte, 8*4096)))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkStage(tc.b); err != nil {
				t.Errorf("checkStage: %v", err)
			}
		})
	}
}

func rlimit(res uint32, soft, hard uint64) []byte {
	b := u32(res)
	b = binary.NativeEndian.AppendUint64(b, soft)
	return binary.NativeEndian.AppendUint64(b, hard)
}

func TestStageConfigRefused(t *testing.T) {
	good := mustEncode(t, minimalPlan())
	caps := func(keep, amb uint64) []byte {
		return binary.NativeEndian.AppendUint64(binary.NativeEndian.AppendUint64(nil, keep), amb)
	}
	tests := []struct {
		name, want string
		b          []byte
	}{
		{"empty", "empty", nil},
		{"bad magic", "not a stage configuration", append([]byte("XXXX"), good[4:]...)},
		{"magic only", "missing", []byte(stageMagic)},
		{"truncated header", "truncated", append(append([]byte{}, good...), tagEnv, 1)},
		{"length beyond the message", "beyond", append(append([]byte{}, good...), record(tagEnv, []byte("A=1\x00"))[:7]...)},
		{"unknown record", "unknown record", with(record(99, nil))},
		{"record zero", "unknown record", with(record(0, nil))},
		{"repeated flags", "repeated", with(record(tagFlags, u32(0)))},
		{"no command", "missing", raw(record(tagFlags, u32(0)), record(tagHostname, []byte("h\x00")))},
		{"no hostname", "missing", raw(record(tagFlags, u32(0)), record(tagArg, []byte("/bin/true\x00")))},
		{"string without NUL", "bad length", with(record(tagEnv, []byte("A=1")))},
		{"string with inner NUL", "bad length", with(record(tagEnv, []byte("A\x00=1\x00")))},
		{"empty string record", "bad length", with(record(tagChdir, nil))},
		{"short flags", "bad length", raw(record(tagFlags, []byte{0, 0}), record(tagHostname, []byte("h\x00")), record(tagArg, []byte("/x\x00")))},
		{"unknown flag", "unknown flags", raw(record(tagFlags, u32(1<<20)), record(tagHostname, []byte("h\x00")), record(tagArg, []byte("/x\x00")))},
		{"ragged groups", "bad length", with(record(tagUser, make([]byte, 10)))},
		{"ambient outside the kept set", "ambient", with(record(tagCaps, caps(1, 2)))},
		{"resource out of range", "resource limit", with(record(tagRlimit, rlimit(16, 1, 1)))},
		{"soft above hard", "resource limit", with(record(tagRlimit, rlimit(1, 2, 1)))},
		{"too many limits", "too many", with(repeat(record(tagRlimit, rlimit(1, 1, 1)), 17)...)},
		{"OOM score out of range", "out of range", with(record(tagOOM, u32(2000)))},
		{"ragged filter", "bad length", with(record(tagSeccomp, make([]byte, 12)))},
		{"filter too long", "bad length", with(record(tagSeccomp, make([]byte, 8*4097)))},
		{"empty affinity", "bad length", with(record(tagAffinity, nil))},
		{"affinity too long", "bad length", with(record(tagAffinity, make([]byte, 129)))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkStage(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("checkStage = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func repeat(r []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = r
	}
	return out
}

func TestStageEncodeRefusesNUL(t *testing.T) {
	for _, p := range []*stagePlan{
		{Hostname: "a\x00b", Argv: []string{"/x"}},
		{Argv: []string{"/x\x00y"}},
		{Argv: []string{"/x"}, Env: []string{"A=\x00"}},
		{Argv: []string{"/x"}, Chdir: "/\x00"},
	} {
		if _, err := p.encode(); err == nil || !strings.Contains(err.Error(), "NUL") {
			t.Errorf("encode(%+v) = %v, want a NUL error", p, err)
		}
	}
}

// FuzzStageConfig feeds the stage's C decoder arbitrary bytes: it may
// refuse them but must not crash or read out of bounds.
func FuzzStageConfig(f *testing.F) {
	f.Add(mustEncode(f, minimalPlan()))
	f.Add(mustEncode(f, fullPlan()))
	f.Add(with(record(tagRlimit, rlimit(16, 1, 1))))
	f.Add(with(record(tagEnv, []byte("A\x00=1\x00"))))
	f.Add([]byte(stageMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = checkStage(b)
	})
}

// FuzzStagePlan checks the encoder and decoder pair: whatever plan the
// encoder accepts, the stage accepts too.
func FuzzStagePlan(f *testing.F) {
	f.Add("box", "/bin/sh", "-c", "A=1", "/root", uint32(0), uint64(0xff), uint64(1), uint32(0))
	f.Add("", "x", "", "", "", uint32(1000), uint64(0), uint64(0), uint32(flagConsole))
	f.Fuzz(func(t *testing.T, host, arg0, arg1, env, dir string, uid uint32, caps, amb uint64, flags uint32) {
		p := &stagePlan{
			Flags: flags & (flagAwaitGo<<1 - 1), Hostname: host, Argv: []string{arg0, arg1}, Env: []string{env},
			Chdir: dir, UID: uid, GID: uid, Groups: []uint32{uid}, Caps: caps, Ambient: amb & caps,
		}
		b, err := p.encode()
		if err != nil {
			return
		}
		if err := checkStage(b); err != nil {
			t.Errorf("the stage refuses the encoder's %+v: %v", p, err)
		}
	})
}
