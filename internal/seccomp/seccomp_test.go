package seccomp

import (
	"encoding/binary"
	"errors"
	"runtime"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// requireTable skips where berth has no system call table.
func requireTable(t *testing.T) {
	t.Helper()
	if auditArch == 0 {
		t.Skipf("no system call table for %s", runtime.GOARCH)
	}
}

func TestRules(t *testing.T) {
	requireTable(t)
	nr := func(name string) uint32 { return syscalls()[name] }
	tests := []struct {
		name    string
		entries []string
		want    []Rule
		err     error
	}{
		{name: "one call", entries: []string{"sethostname"}, want: []Rule{{nr("sethostname"), unix.EPERM}}},
		{name: "errno by name and number", entries: []string{"reboot:EACCES", "swapon:22"},
			want: []Rule{{nr("swapon"), unix.EINVAL}, {nr("reboot"), unix.EACCES}}},
		{name: "group", entries: []string{"@swap"}, want: []Rule{{nr("swapon"), unix.EPERM}, {nr("swapoff"), unix.EPERM}}},
		{name: "later entry wins", entries: []string{"@swap", "swapoff:ENOSYS"},
			want: []Rule{{nr("swapon"), unix.EPERM}, {nr("swapoff"), unix.ENOSYS}}},
		{name: "unknown call", entries: []string{"nosuchcall"}, err: ErrUnknown},
		{name: "unknown group", entries: []string{"@nosuch"}, err: ErrUnknown},
		{name: "unknown errno", entries: []string{"reboot:EWHAT"}, err: ErrUnknown},
		{name: "errno out of range", entries: []string{"reboot:5000"}, err: ErrUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Rules(tc.entries)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Rules(%q) error %v, want %v", tc.entries, err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Rules(%q) (-want +got):\n%s", tc.entries, diff)
			}
		})
	}
}

func TestGroupsHaveKnownMembers(t *testing.T) {
	requireTable(t)
	for g := range groups() {
		if nrs, err := resolve(g); err != nil || len(nrs) == 0 {
			t.Errorf("group %s resolves to %v, %v", g, nrs, err)
		}
	}
}

// run interprets prog (only the instructions Program emits) on the
// seccomp_data of a call nr of architecture arch.
func run(t *testing.T, prog []unix.SockFilter, arch, nr uint32) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.NativeEndian.PutUint32(data[offNr:], nr)
	binary.NativeEndian.PutUint32(data[offArch:], arch)
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.NativeEndian.Uint32(data[in.K:])
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			pc += int(map[bool]uint8{true: in.Jt, false: in.Jf}[acc == in.K])
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			pc += int(map[bool]uint8{true: in.Jt, false: in.Jf}[acc&in.K != 0])
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
		}
	}
	t.Fatal("program ran off its end")
	return 0
}

func TestProgram(t *testing.T) {
	requireTable(t)
	rules, err := Rules([]string{"sethostname", "reboot:EACCES"})
	if err != nil {
		t.Fatal(err)
	}
	sync, err := SuppressSync()
	if err != nil {
		t.Fatal(err)
	}
	prog := Program(append(rules, sync...))
	errno := func(e syscall.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }
	tests := []struct {
		name     string
		arch, nr uint32
		want     uint32
	}{
		{"denied", auditArch, syscalls()["sethostname"], errno(unix.EPERM)},
		{"denied with its errno", auditArch, syscalls()["reboot"], errno(unix.EACCES)},
		{"allowed", auditArch, syscalls()["getpid"], unix.SECCOMP_RET_ALLOW},
		{"sync suppressed", auditArch, syscalls()["fsync"], errno(0)},
		{"another ABI", unix.AUDIT_ARCH_I386, 1, errno(unix.ENOSYS)},
	}
	if auditArch == unix.AUDIT_ARCH_X86_64 {
		tests = append(tests, struct {
			name     string
			arch, nr uint32
			want     uint32
		}{"x32", auditArch, x32Bit | syscalls()["getpid"], errno(unix.ENOSYS)})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(t, prog, tc.arch, tc.nr); got != tc.want {
				t.Errorf("filter returns %#x, want %#x", got, tc.want)
			}
		})
	}
}

// FuzzRules feeds deny-list entries to Rules: it must never panic, and
// every rule it returns must be a known call with an errno in range.
func FuzzRules(f *testing.F) {
	for _, s := range []string{"sethostname", "@clock", "reboot:EACCES", "swapon:22", "x:", ":", "@", "a:b:c", "reboot:0"} {
		f.Add(s)
	}
	known := map[uint32]bool{}
	for _, nr := range syscalls() {
		known[nr] = true
	}
	f.Fuzz(func(t *testing.T, entry string) {
		rules, err := Rules([]string{entry})
		if err != nil {
			return
		}
		for _, r := range rules {
			if !known[r.Nr] || r.Errno == 0 || r.Errno > unix.SECCOMP_RET_DATA {
				t.Fatalf("Rules(%q) returned %+v", entry, r)
			}
		}
		if n := len(Program(rules)); n > 4096 {
			t.Fatalf("program of %d instructions", n)
		}
	})
}
