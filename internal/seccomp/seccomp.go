package seccomp

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Errors of Compile.
var (
	// ErrUnknown: a name is no system call or group berth knows here.
	ErrUnknown = errors.New("unknown system call")
	// ErrUnsupported: berth has no system call table for this architecture.
	ErrUnsupported = errors.New("system call filters are not supported on this architecture")
)

// syscalls maps this architecture's system call names to their numbers. It
// is built on first use: most starts filter nothing, and a package-level
// map would cost every berth-nspawn process its building at start.
var syscalls = sync.OnceValue(syscallTable)

// groups are systemd's system call groups (systemd.exec(5), v252) that a
// deny list may name; names this architecture lacks are skipped. Built on
// first use, as syscalls is.
var groups = sync.OnceValue(groupTable)

// groupTable returns the members of each group.
func groupTable() map[string][]string {
	return map[string][]string{
		"@clock":         {"adjtimex", "clock_adjtime", "clock_adjtime64", "clock_settime", "clock_settime64", "settimeofday"},
		"@cpu-emulation": {"modify_ldt", "subpage_prot", "switch_endian", "vm86", "vm86old"},
		"@debug":         {"lookup_dcookie", "perf_event_open", "pidfd_getfd", "ptrace", "rtas", "s390_runtime_instr", "sys_debug_setcontext"},
		"@keyring":       {"add_key", "keyctl", "request_key"},
		"@module":        {"delete_module", "finit_module", "init_module"},
		"@mount": {"chroot", "fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr", "move_mount",
			"open_tree", "pivot_root", "umount", "umount2"},
		"@obsolete": {"_sysctl", "afs_syscall", "bdflush", "break", "create_module", "ftime", "get_kernel_syms",
			"getpmsg", "gtty", "idle", "lock", "mpx", "prof", "profil", "putpmsg", "query_module", "security",
			"sgetmask", "ssetmask", "stime", "stty", "sysfs", "tuxcall", "ugetrlimit", "ulimit", "uselib", "ustat", "vserver"},
		"@raw-io": {"ioperm", "iopl", "pciconfig_iobase", "pciconfig_read", "pciconfig_write", "s390_pci_mmio_read",
			"s390_pci_mmio_write"},
		"@reboot": {"kexec_file_load", "kexec_load", "reboot"},
		"@resources": {"ioprio_set", "mbind", "migrate_pages", "move_pages", "nice", "sched_setaffinity",
			"sched_setattr", "sched_setparam", "sched_setscheduler", "set_mempolicy", "setpriority", "setrlimit"},
		"@setuid": {"setgid", "setgid32", "setgroups", "setgroups32", "setregid", "setregid32", "setresgid",
			"setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setuid", "setuid32"},
		"@swap": {"swapoff", "swapon"},
	}
}

// Rule denies one system call.
type Rule struct {
	// Nr is the system call number.
	Nr uint32
	// Errno is what the call fails with; 0 makes it succeed without
	// running.
	Errno syscall.Errno
}

// Rules resolves deny-list entries ("name", "@group", either with
// ":ERRNO", a name such as EACCES or a number) into rules, sorted by
// number; a later entry for the same call wins. ErrUnknown for a name or
// group berth does not know, ErrUnsupported on an architecture without a
// table.
func Rules(entries []string) ([]Rule, error) {
	if auditArch == 0 {
		return nil, ErrUnsupported
	}
	byNr := map[uint32]syscall.Errno{}
	for _, e := range entries {
		name, errno, err := splitErrno(e)
		if err != nil {
			return nil, err
		}
		nrs, err := resolve(name)
		if err != nil {
			return nil, err
		}
		for _, nr := range nrs {
			byNr[nr] = errno
		}
	}
	rules := make([]Rule, 0, len(byNr))
	for nr, errno := range byNr {
		rules = append(rules, Rule{Nr: nr, Errno: errno})
	}
	slices.SortFunc(rules, func(a, b Rule) int { return int(a.Nr) - int(b.Nr) })
	return rules, nil
}

// splitErrno splits "name:ERRNO"; EPERM without one.
func splitErrno(e string) (string, syscall.Errno, error) {
	name, es, ok := strings.Cut(e, ":")
	if !ok {
		return name, unix.EPERM, nil
	}
	if n, err := strconv.ParseUint(es, 10, 12); err == nil && n > 0 {
		return name, syscall.Errno(n), nil
	}
	for n := syscall.Errno(1); n < 4096; n++ {
		if unix.ErrnoName(n) == es {
			return name, n, nil
		}
	}
	return "", 0, fmt.Errorf("%q: unknown errno %q: %w", e, es, ErrUnknown)
}

// resolve returns the numbers of a system call or group.
func resolve(name string) ([]uint32, error) {
	if members, ok := groups()[name]; ok {
		var out []uint32
		for _, m := range members {
			if nr, ok := syscalls()[m]; ok {
				out = append(out, nr)
			}
		}
		return out, nil
	}
	if nr, ok := syscalls()[name]; ok {
		return []uint32{nr}, nil
	}
	return nil, fmt.Errorf("%q: %w", name, ErrUnknown)
}

// syncCalls are the calls SuppressSync turns into no-ops.
var syncCalls = []string{"fdatasync", "fsync", "sync", "sync_file_range", "sync_file_range2", "syncfs"}

// SuppressSync returns the rules of SuppressSync=yes: sync(), syncfs(),
// fsync(), fdatasync() and sync_file_range() succeed without doing
// anything (errno 0). Files opened with O_SYNC and msync(MS_SYNC) still
// sync. ErrUnsupported on an architecture without a table.
func SuppressSync() ([]Rule, error) {
	if auditArch == 0 {
		return nil, ErrUnsupported
	}
	var rules []Rule
	for _, name := range syncCalls {
		if nr, ok := syscalls()[name]; ok {
			rules = append(rules, Rule{Nr: nr})
		}
	}
	return rules, nil
}

// Filter offsets and return values (linux/seccomp.h, linux/filter.h).
const (
	offNr   = 0
	offArch = 4
	// x32Bit marks x32 system calls on x86-64.
	x32Bit = 0x40000000
)

// Program returns the filter for rules: the native ABI's calls of a rule
// fail with its errno (or, with errno 0, return 0 without running), the
// first rule for a call counting; other ABIs' calls fail with ENOSYS; the
// rest is allowed.
func Program(rules []Rule) []unix.SockFilter {
	ret := func(v uint32) unix.SockFilter { return stmt(unix.BPF_RET|unix.BPF_K, v) }
	prog := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch),
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, auditArch, 1, 0),
		ret(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr),
	}
	if auditArch == unix.AUDIT_ARCH_X86_64 {
		prog = append(prog, jump(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, x32Bit, 0, 1), ret(unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS)))
	}
	for _, r := range rules {
		prog = append(prog, jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, r.Nr, 0, 1),
			ret(unix.SECCOMP_RET_ERRNO|uint32(r.Errno)&unix.SECCOMP_RET_DATA))
	}
	return append(prog, ret(unix.SECCOMP_RET_ALLOW))
}

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}
