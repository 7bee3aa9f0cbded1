//go:build linux && cgo

package spawn

/*
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// berth_carrier_stack is the carrier's stack: it only waits for its end.
#define BERTH_CARRIER_STACK (64 * 1024)

// berth_carrier_wait is the carrier's whole life: it dies with the thread
// that made it and otherwise waits for SIGKILL. Every signal is blocked
// (inherited from berth_carrier_clone), so no handler of the Go runtime,
// whose address space it shares, ever runs on it; it makes raw system
// calls only, which touch no thread-local state while they succeed.
static int berth_carrier_wait(void *parent) {
	syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (syscall(SYS_getppid) != (long)(intptr_t)parent)
		syscall(SYS_exit, 1);
	for (;;)
		syscall(SYS_pause);
	return 0;
}

// berth_carrier_clone starts a carrier: a child sharing this process's
// memory (so nothing is copied), in a new user namespace without an ID
// mapping, with every signal blocked. It returns the PID, or -errno; *stack
// is the stack to free once the child is reaped.
static int berth_carrier_clone(void **stack) {
	*stack = malloc(BERTH_CARRIER_STACK);
	if (*stack == NULL)
		return -ENOMEM;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int pid = clone(berth_carrier_wait, (char *)*stack + BERTH_CARRIER_STACK, CLONE_NEWUSER | CLONE_VM | SIGCHLD,
			(void *)(intptr_t)getpid());
	int err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		free(*stack);
		*stack = NULL;
		return -err;
	}
	return pid;
}
*/
import "C"

import (
	"os"
	"syscall"
	"unsafe"

	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// cloneCarrier is the spawner's idmap.StartFunc: instead of executing
// itself stopped by ptrace (a full fork of the Go process, then an exec),
// it clones a child that shares its memory and only waits in the new user
// namespace, which costs a fraction of a millisecond. The child runs C
// alone, on a stack of its own, never Go. It runs on the carrier's locked
// thread, whose end kills the child (its parent-death signal).
func cloneCarrier() (int, func(), error) {
	var stack unsafe.Pointer
	pid := int(C.berth_carrier_clone(&stack))
	if pid < 0 {
		return 0, nil, os.NewSyscallError("clone", syscall.Errno(-pid))
	}
	end := func() {
		_ = unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		_, _ = kernel.RetryInt("wait4", func() (int, error) { return unix.Wait4(pid, &ws, 0, nil) })
		C.free(stack)
	}
	return pid, end, nil
}
