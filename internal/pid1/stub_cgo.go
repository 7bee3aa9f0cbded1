//go:build cgo && linux

package pid1

/*
#cgo LDFLAGS: -static
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/sched.h>

// berth_fork_pid2 forks the payload as PID 2: PIDs are handed out
// cyclically, so the PID is asked for with clone3's set_tid in case the
// namespace used some already. Without the privilege for that, it is a
// plain fork.
static pid_t berth_fork_pid2(void) {
	pid_t want = 2;
	struct clone_args args;
	memset(&args, 0, sizeof args);
	args.exit_signal = SIGCHLD;
	args.set_tid = (unsigned long)&want;
	args.set_tid_size = 1;
	long pid = syscall(SYS_clone3, &args, sizeof args);
	if (pid < 0)
		return fork();
	return (pid_t)pid;
}

// berth_pid1_stub is the stub init, called with argv = [path, argv0,
// args...] by the constructor of package spawn (the one dispatch of the
// binary's pre-runtime roles) when the binary is executed with BERTH_STUB_ARG.
// It runs before the Go runtime starts, so the process is still
// single-threaded and the payload it forks first is PID 2 of the
// namespace. It forwards every signal it receives to the payload, reaps
// every child, and exits with the payload's status (255 when the payload
// was killed).
void berth_pid1_stub(char **argv, char **envp) {
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	pid_t payload = berth_fork_pid2();
	if (payload < 0)
		_exit(255);
	if (payload == 0) {
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		execve(argv[0], argv + 1, envp);
		_exit(127);
	}
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(payload, sig);
			continue;
		}
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);
			if (pid <= 0)
				break;
			if (pid == payload)
				_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 255);
		}
	}
}
*/
import "C"
