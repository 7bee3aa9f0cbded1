//go:build linux && cgo

package spawn

/*
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// berth_fwd_pidfd and berth_fwd_sig are what berth_fwd_handler uses: the
// stage's pidfd and the signal it sends for any it catches.
static volatile int berth_fwd_pidfd = -1;
static volatile int berth_fwd_sig;

// berth_fwd_handler sends the stage the forwarded signal. It runs on
// whichever thread the signal hits, on the signal stack the Go runtime
// gave every thread (SA_ONSTACK), and makes one system call.
static void berth_fwd_handler(int sig) {
	int saved = errno;
	syscall(SYS_pidfd_send_signal, berth_fwd_pidfd, berth_fwd_sig, NULL, 0);
	errno = saved;
}

// berth_fwd_start makes SIGTERM and SIGINT send sig to the process of
// pidfd; old receives their previous actions.
static void berth_fwd_start(int pidfd, int sig, struct sigaction old[2]) {
	berth_fwd_pidfd = pidfd;
	berth_fwd_sig = sig;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = berth_fwd_handler;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, &old[0]);
	sigaction(SIGINT, &sa, &old[1]);
}

// berth_fwd_stop gives SIGTERM and SIGINT their actions old again.
static void berth_fwd_stop(struct sigaction old[2]) {
	sigaction(SIGTERM, &old[0], NULL);
	sigaction(SIGINT, &old[1], NULL);
}
*/
import "C"

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// forwardSignals makes SIGTERM and SIGINT send sig to the process of
// pidfd, from a C handler in place of the Go runtime's, until the
// returned func gives the runtime's back (a SIGTERM or SIGINT then ends
// the spawner, as before). os/signal would do the same at a cost on the
// start's path: its first Notify starts a goroutine locked to a thread of
// its own and hands the one P to that thread and back for each signal,
// a new thread and a handful of thread switches.
func forwardSignals(pidfd int, sig unix.Signal) (stop func()) {
	old := (*[2]C.struct_sigaction)(C.calloc(2, C.sizeof_struct_sigaction))
	C.berth_fwd_start(C.int(pidfd), C.int(sig), &old[0])
	return func() {
		C.berth_fwd_stop(&old[0])
		C.free(unsafe.Pointer(old))
	}
}
