//go:build linux && cgo && amd64

package spawn

/*
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// berth_clone3_run (x86-64) calls clone3(args, size); the child, on the
// stack args gives it, calls fn(arg) and exits with its result. fn and
// arg wait in r9 and r8, which the system call preserves and clone3 does
// not read.
__asm__(
	".text\n"
	".type berth_clone3_run,@function\n"
	"berth_clone3_run:\n"
	"	mov %rdx, %r9\n"
	"	mov %rcx, %r8\n"
	"	mov $435, %eax\n" // __NR_clone3
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	xor %ebp, %ebp\n"
	"	mov %r8, %rdi\n"
	"	call *%r9\n"
	"	mov %eax, %edi\n"
	"	mov $60, %eax\n" // __NR_exit
	"	syscall\n"
	"	hlt\n"
	"1:	ret\n"
	".size berth_clone3_run, .-berth_clone3_run\n");
long berth_clone3_run(struct clone_args *args, size_t size, int (*fn)(void *), void *arg);

// berth_sys makes a raw system call: unlike syscall(3), it leaves errno
// (the cloning thread's, which the child shares) alone.
static long berth_sys(long n, long a, long b, long c) {
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}

// berth_sys4 is berth_sys with a fourth argument.
static long berth_sys4(long n, long a, long b, long c, long d) {
	long ret;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
	return ret;
}

#define BERTH_CLONE_STACK (64 * 1024)
#define BERTH_CLONE_MAXFDS 8

// berth_clone is what the child needs, in memory of its own (C's): the
// spawner's memory is shared until the child executes.
struct berth_clone {
	int gate;   // read end: a byte once the ID maps are written
	int report; // write end, close-on-exec: the errno of a failed step
	int parent; // getppid() while the spawner lives: its PID, or 0 in a new PID namespace
	int nfds;
	int fds[BERTH_CLONE_MAXFDS]; // become fds 0..nfds-1
	uint64_t mask;               // the signal mask to execute with
	char *argv[3];
	char *envp[1];
	void *stack;
};

// berth_clone_fail reports err (negative) and ends the child.
static int berth_clone_fail(struct berth_clone *c, long err) {
	int e = (int)-err;
	berth_sys(SYS_write, c->report, (long)&e, sizeof e);
	return 127;
}

// berth_clone_child runs in the new namespaces, on its own stack, with
// every signal blocked and every handler the default (CLONE_CLEAR_SIGHAND):
// it waits for its ID maps, becomes the namespace's root, moves its
// descriptors into place and executes the stage. Raw system calls only.
static int berth_clone_child(void *arg) {
	struct berth_clone *c = arg;
	char b;
	long r;
	if ((r = berth_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0)) < 0)
		return berth_clone_fail(c, r);
	if (berth_sys(SYS_getppid, 0, 0, 0) != c->parent)
		return berth_clone_fail(c, -ESRCH);
	do
		r = berth_sys(SYS_read, c->gate, (long)&b, 1);
	while (r == -EINTR);
	if (r != 1) // the spawner is gone (its end closed) or failed
		return berth_clone_fail(c, r < 0 ? r : -EPIPE);
	if ((r = berth_sys(SYS_setgroups, 0, 0, 0)) < 0 || (r = berth_sys(SYS_setresgid, 0, 0, 0)) < 0 ||
	    (r = berth_sys(SYS_setresuid, 0, 0, 0)) < 0)
		return berth_clone_fail(c, r);
	int high[BERTH_CLONE_MAXFDS];
	for (int i = 0; i < c->nfds; i++)
		if ((high[i] = berth_sys(SYS_fcntl, c->fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
			return berth_clone_fail(c, high[i]);
	for (int i = 0; i < c->nfds; i++)
		if ((r = berth_sys(SYS_dup3, high[i], i, 0)) < 0)
			return berth_clone_fail(c, r);
	uint64_t mask = c->mask;
	if ((r = berth_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&mask, 0, sizeof mask)) < 0)
		return berth_clone_fail(c, r);
	r = berth_sys(SYS_execve, (long)"/proc/self/exe", (long)c->argv, (long)c->envp);
	return berth_clone_fail(c, r);
}

// berth_clone_stage starts the child with clone3(flags | CLONE_VM |
// CLONE_CLEAR_SIGHAND | CLONE_PIDFD [| CLONE_INTO_CGROUP]): nothing of the
// spawner's address space is copied. It returns the PID or -errno.
static long berth_clone_stage(struct berth_clone *c, uint64_t flags, int cgroup, int *pidfd) {
	c->stack = malloc(BERTH_CLONE_STACK);
	if (c->stack == NULL)
		return -ENOMEM;
	struct clone_args a;
	memset(&a, 0, sizeof a);
	a.flags = flags | CLONE_VM | CLONE_CLEAR_SIGHAND | CLONE_PIDFD;
	a.pidfd = (uintptr_t)pidfd;
	a.exit_signal = SIGCHLD;
	a.stack = (uintptr_t)c->stack;
	a.stack_size = BERTH_CLONE_STACK;
	if (cgroup >= 0) {
		a.flags |= CLONE_INTO_CGROUP;
		a.cgroup = cgroup;
	}
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	memcpy(&c->mask, &old, sizeof c->mask);
	long pid = berth_clone3_run(&a, sizeof a, berth_clone_child, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return pid;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/berth-dev/berth/internal/idmap"
	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// cloneStage starts the stage of a user-namespaced machine, the clone
// flags given (CLONE_NEWUSER added), its ID maps m, in the cgroup cgfd
// (-1: none), with fds as its descriptors 0..n-1. It does what
// syscall.ForkExec does then, without its full fork: ForkExec copies the
// spawner's whole address space for any child in a new user namespace
// (the child has to wait for its maps, so it cannot borrow the memory
// with vfork), and the copy, its copy-on-write faults and its teardown
// at the exec cost the start milliseconds. This child shares the memory
// and runs C alone on a stack of its own until it executes. Unlike
// ForkExec, cloneStage does not wait for that execution, which takes a
// millisecond or more: the spawner goes on with the container while the
// kernel loads the stage, and stage.executed waits for it (and frees the
// child's memory) when the spawner relies on it. It runs on the thread
// whose end kills the stage (its parent-death signal).
func cloneStage(flags uintptr, m []idmap.Mapping, cgfd int, fds []uintptr) (*stage, error) {
	if len(fds) > C.BERTH_CLONE_MAXFDS {
		return nil, errors.New("clone stage: too many descriptors")
	}
	var gate, report [2]int
	if err := unix.Pipe2(gate[:], unix.O_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	defer unix.Close(gate[1])
	if err := unix.Pipe2(report[:], unix.O_CLOEXEC); err != nil {
		unix.Close(gate[0])
		return nil, os.NewSyscallError("pipe2", err)
	}
	c := (*C.struct_berth_clone)(C.calloc(1, C.sizeof_struct_berth_clone))
	c.gate, c.report, c.nfds = C.int(gate[0]), C.int(report[1]), C.int(len(fds))
	if flags&unix.CLONE_NEWPID == 0 {
		c.parent = C.int(os.Getpid())
	}
	for i, fd := range fds {
		c.fds[i] = C.int(fd)
	}
	c.argv[0], c.argv[1] = C.CString("berth-nspawn"), C.CString(stageArg)
	pidfd := C.int(-1)
	pid := int(C.berth_clone_stage(c, C.uint64_t(flags|unix.CLONE_NEWUSER), C.int(cgfd), &pidfd))
	unix.Close(gate[0])
	unix.Close(report[1])
	if e := syscall.Errno(-pid); pid < 0 && (e == unix.ENOSYS || e == unix.EINVAL) {
		// A kernel without clone3 or CLONE_CLEAR_SIGHAND (before 5.5):
		// ForkExec's way.
		unix.Close(report[0])
		freeClone(c)
		return nil, fmt.Errorf("%w: %w", errNoClone, os.NewSyscallError("clone3", e))
	} else if pid < 0 {
		unix.Close(report[0])
		freeClone(c)
		return nil, os.NewSyscallError("clone3", e)
	}
	st := newStage(pid, int(pidfd))
	st.execd = func() error {
		err := awaitExec(report[0])
		unix.Close(report[0])
		if err != nil {
			st.kill() // reaped before its stack is freed
			err = fmt.Errorf("start container: %w", err)
		}
		freeClone(c)
		return err
	}
	err := writeIDMaps(pid, m)
	if err == nil {
		_, err = unix.Write(gate[1], []byte{0})
	}
	if err != nil {
		st.kill()
		_ = st.executed()
		st.pidf.Close()
		return nil, err
	}
	return st, nil
}

// writeIDMaps writes the uid_map and gid_map of process pid's user
// namespace, leaving setgroups allowed (the stage's root may call it, as
// with ForkExec's GidMappingsEnableSetgroups).
func writeIDMaps(pid int, m []idmap.Mapping) error {
	var b []byte
	for _, x := range m {
		b = strconv.AppendUint(b, uint64(x.Inner), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(x.Outer), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(x.Size), 10)
		b = append(b, '\n')
	}
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	for _, name := range []string{"uid_map", "gid_map"} {
		if err := os.WriteFile(dir+name, b, 0); err != nil {
			return err
		}
	}
	return nil
}

// awaitExec reads the child's report: nothing (the end of the pipe, closed
// on exec) once it executed, else the errno of the step that failed.
func awaitExec(fd int) error {
	var b [4]byte
	n, err := kernel.RetryInt("read", func() (int, error) { return unix.Read(fd, b[:]) })
	switch {
	case err != nil:
		return os.NewSyscallError("read", err)
	case n == 0:
		return nil
	case n == 4:
		return syscall.Errno(*(*int32)(unsafe.Pointer(&b[0])))
	}
	return errors.New("clone stage: short report")
}

// freeClone frees the child's C memory, its stack among it: the child
// executed or was reaped by then.
func freeClone(c *C.struct_berth_clone) {
	C.free(unsafe.Pointer(c.argv[0]))
	C.free(unsafe.Pointer(c.argv[1]))
	C.free(c.stack)
	C.free(unsafe.Pointer(c))
}

// errNoClone wraps the error of a kernel that cannot clone the stage so:
// the caller starts it with syscall.ForkExec.
var errNoClone = errors.New("clone stage: not supported")
