//go:build linux && cgo

// The stage: PID 1 of the container's new PID namespace (and root of its
// user namespace, if it has one), started by the spawner with StageArg.
// It runs from a constructor, before the Go runtime starts, so a container
// start pays for one Go runtime (the spawner's) only. It reads its
// configuration (stage.h) from the sync socket (a stage started early, in
// a fresh mount namespace the spawner builds the tree in and then leaves
// to it, gets the root with it and enters it), finishes the tree (stage_mounts.c), passes the console and notify socket to the spawner,
// waits for its go, and executes the payload (or the stub init of -a) with
// the identity, limits, filter and capabilities the spawner computed.
//
// The same constructor dispatches the stub init (package pid1): one check
// of argv[1] decides whether the process is the spawner, the stage or the
// stub.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "stage_internal.h"

// Defined by package pid1 (stub_cgo.go).
extern void berth_pid1_stub(char **argv, char **envp) __attribute__((noreturn));

void berth_fail(int err, const char *fmt, ...) {
	char msg[1024];
	msg[0] = BERTH_MSG_ERROR;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg + 1, sizeof msg - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof msg - 2)
		n = sizeof msg - 2;
	if (err != 0) {
		int m = snprintf(msg + 1 + n, sizeof msg - 1 - n, ": %s", strerror(err));
		if (m > 2 && msg[1 + n + 2] >= 'A' && msg[1 + n + 2] <= 'Z')
			msg[1 + n + 2] += 'a' - 'A'; // "operation not permitted", as Go says it
		n = strlen(msg + 1);
	}
	send(BERTH_SYNC_FD, msg, 1 + n, MSG_NOSIGNAL);
	_exit(1);
}

// berth_recv_config receives the configuration message and the
// descriptor passed with it (-1 without).
static unsigned char *berth_recv_config(size_t *len, int *fd) {
	char peek;
	ssize_t size;
	do
		size = recv(BERTH_SYNC_FD, &peek, 1, MSG_PEEK | MSG_TRUNC);
	while (size < 0 && errno == EINTR);
	if (size <= 0 || size > BERTH_STAGE_MAX_MSG)
		berth_fail(size < 0 ? errno : 0, "receive the configuration");
	unsigned char *buf = malloc(size);
	if (buf == NULL)
		berth_fail(ENOMEM, "receive the configuration");
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = buf, .iov_len = size};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	ssize_t n;
	do
		n = recvmsg(BERTH_SYNC_FD, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != size || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		berth_fail(n < 0 ? errno : 0, "receive the configuration");
	*fd = -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	*len = (size_t)n;
	return buf;
}

// berth_join_root enters the root the spawner prepared in the fresh mount
// namespace an early stage was started in, which the spawner left to the
// stage before it sent the configuration.
static void berth_join_root(uint32_t flags, int root) {
	if (!(flags & BERTH_F_JOIN_ROOT)) {
		if (root >= 0)
			berth_fail(0, "receive the configuration: unexpected descriptor");
		return;
	}
	if (root < 0)
		berth_fail(0, "receive the configuration: no root");
	if (fchdir(root) < 0)
		berth_fail(errno, "enter root");
	close(root);
}

// berth_await_go waits until the spawner has set up the host side
// (network, registration) and lets the payload start.
static void berth_await_go(void) {
	char m[8];
	ssize_t n;
	do
		n = recv(BERTH_SYNC_FD, m, sizeof m, 0);
	while (n < 0 && errno == EINTR);
	if (n != 1 || m[0] != BERTH_MSG_GO)
		berth_fail(n < 0 ? errno : 0, "wait for the spawner");
}

// berth_open_console creates a pseudo-terminal in the container's devpts,
// binds its peer onto /dev/console and returns the master; *peer is the
// payload's terminal.
static int berth_open_console(int *peer) {
	int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		berth_fail(errno, "open /dev/pts/ptmx");
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		berth_fail(errno, "unlock the console");
	*peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*peer < 0)
		berth_fail(errno, "open the console");
	int fd = open("/dev/console", O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		berth_fail(errno, "create /dev/console");
	if (fd >= 0)
		close(fd);
	int target = open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (target < 0)
		berth_fail(errno, "open /dev/console");
	berth_bind_tree(*peer, target, "/dev/console", 0, 0);
	close(target);
	return master;
}

// berth_listen_notify creates the guest's sd_notify socket.
static int berth_listen_notify(void) {
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		berth_fail(errno, "notify socket");
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "/run/host/notify"};
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		berth_fail(errno, "bind /run/host/notify");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
	return fd;
}

// berth_hand_over creates the console and the notify socket, seals
// /run/host read-only and passes both to the spawner. It returns the
// payload's side of the console (-1 in pipe mode).
static int berth_hand_over(uint32_t flags) {
	int peer = -1, fds[2], nfds = 0;
	char msg[2] = {BERTH_MSG_FDS, BERTH_FDS_NOTIFY};
	if (flags & BERTH_F_CONSOLE) {
		fds[nfds++] = berth_open_console(&peer);
		msg[1] |= BERTH_FDS_CONSOLE;
	}
	fds[nfds++] = berth_listen_notify();
	int host = open("/run/host", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (host < 0)
		berth_fail(errno, "open /run/host");
	berth_bind_tree(host, host, "/run/host", 1, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	close(host);
	char cbuf[CMSG_SPACE(sizeof fds)];
	memset(cbuf, 0, sizeof cbuf);
	struct iovec iov = {.iov_base = msg, .iov_len = sizeof msg};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	if (sendmsg(BERTH_SYNC_FD, &mh, MSG_NOSIGNAL) < 0)
		berth_fail(errno, "pass the console and notify socket");
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return peer;
}

// berth_take_terminal makes the console the controlling terminal and fds
// 0-2.
static void berth_take_terminal(int peer) {
	if (setsid() < 0)
		berth_fail(errno, "setsid");
	if (ioctl(peer, TIOCSCTTY, 0) < 0)
		berth_fail(errno, "controlling terminal");
	for (int i = 0; i < 3; i++)
		if (dup3(peer, i, 0) < 0)
			berth_fail(errno, "console as fd %d", i);
	close(peer);
}

// berth_apply_process applies the .nspawn process settings, the filter
// last; the payload inherits them.
static void berth_apply_process(const struct berth_stage *st) {
	for (size_t i = 0; i < st->nrlimits; i++) {
		const struct berth_rlimit *l = &st->rlimits[i];
		struct rlimit r = {.rlim_cur = l->soft, .rlim_max = l->hard};
		if (setrlimit(l->resource, &r) < 0)
			berth_fail(errno, "set resource limit %u", l->resource);
	}
	if (st->has_oom) {
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		char v[16];
		int n = snprintf(v, sizeof v, "%d", st->oom);
		if (fd < 0 || write(fd, v, n) != n)
			berth_fail(errno, "set OOM score adjustment %d", st->oom);
		close(fd);
	}
	if (st->affinity_len > 0 && sched_setaffinity(0, st->affinity_len, (const cpu_set_t *)st->affinity) < 0)
		berth_fail(errno, "set CPU affinity");
	if (st->has_personality && syscall(SYS_personality, (unsigned long)st->personality) < 0)
		berth_fail(errno, "set personality");
	if (st->filter_len > 0) {
		struct sock_fprog prog = {.len = st->filter_len / 8, .filter = (struct sock_filter *)st->filter};
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
			berth_fail(errno, "install system call filter");
	}
}

// berth_set_inheritable sets the inheritable set to keep (limited to what
// the process permits).
static void berth_set_inheritable(uint64_t keep) {
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) < 0)
		berth_fail(errno, "capget");
	data[0].inheritable = (uint32_t)keep & data[0].permitted;
	data[1].inheritable = (uint32_t)(keep >> 32) & data[1].permitted;
	if (syscall(SYS_capset, &hdr, data) < 0)
		berth_fail(errno, "capset");
}

// berth_identity drops every capability outside the kept set from the
// bounding set, switches to the payload's user (keeping the permitted set
// for the ambient one across it) and raises the ambient set, as
// systemd-nspawn does.
static void berth_identity(const struct berth_stage *st) {
	for (int n = 0; n < 64; n++)
		if (!(st->caps & (1ULL << n)) && prctl(PR_CAPBSET_READ, n, 0, 0, 0) >= 0 &&
		    prctl(PR_CAPBSET_DROP, n, 0, 0, 0) < 0)
			berth_fail(errno, "drop capability %d", n);
	berth_set_inheritable(st->caps);
	int root = !st->has_user || (st->uid == 0 && st->gid == 0);
	if (st->has_user && st->uid != 0) // another user than root inherits only the ambient set
		berth_set_inheritable(st->ambient);
	if ((st->flags & BERTH_F_NO_NEW_PRIVS) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		berth_fail(errno, "no_new_privs");
	if (st->ambient != 0 && !root && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		berth_fail(errno, "keep capabilities");
	if (!root) {
		if (syscall(SYS_setgroups, st->ngroups, st->groups) < 0)
			berth_fail(errno, "setgroups");
		if (syscall(SYS_setgid, st->gid) < 0)
			berth_fail(errno, "setgid");
		if (syscall(SYS_setuid, st->uid) < 0)
			berth_fail(errno, "setuid");
	}
	for (int n = 0; n < 64; n++)
		if ((st->ambient & (1ULL << n)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, n, 0, 0) < 0)
			berth_fail(errno, "raise ambient capability %d", n);
}

// berth_exec executes the payload, or the stub init from the sealed copy
// of the binary with the payload as its argument. Only fds 0-2 (and the
// stub's own copy) survive.
static void berth_exec(const struct berth_stage *st) {
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		berth_fail(errno, "close descriptors");
	if (!(st->flags & BERTH_F_AS_PID2)) {
		execve(st->argv[0], st->argv, st->envp);
		berth_fail(errno, "execute %s", st->argv[0]);
	}
	char **argv = calloc(st->argc + 4, sizeof *argv);
	if (argv == NULL)
		berth_fail(ENOMEM, "execute the stub init");
	argv[0] = "berth-nspawn-stub";
	argv[1] = BERTH_STUB_ARG;
	argv[2] = st->argv[0];
	memcpy(argv + 3, st->argv, (st->argc + 1) * sizeof *argv);
	// Block every signal across the execve: a signal the stub has no
	// handler for yet would be dropped (it is PID 1), a blocked one waits
	// for the stub's sigwaitinfo.
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	syscall(SYS_execveat, BERTH_STUB_FD, "", argv, st->envp, AT_EMPTY_PATH);
	int err = errno;
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	berth_fail(err, "execute the stub init");
}

void berth_stage_main(void) {
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	size_t len;
	int root;
	unsigned char *buf = berth_recv_config(&len, &root);
	struct berth_stage st;
	char err[256];
	if (berth_stage_decode(buf, len, &st, err, sizeof err) < 0)
		berth_fail(0, "stage configuration: %s", err);
	berth_join_root(st.flags, root);
	if ((st.flags & BERTH_F_CGROUPNS) && unshare(CLONE_NEWCGROUP) < 0)
		berth_fail(errno, "cgroup namespace");
	if (sethostname(st.hostname, strlen(st.hostname)) < 0)
		berth_fail(errno, "set hostname");
	berth_finish_root(st.flags);
	int peer = berth_hand_over(st.flags);
	if (st.flags & BERTH_F_AWAIT_GO)
		berth_await_go();
	if (st.chdir != NULL && chdir(st.chdir) < 0) {
		if (!(st.flags & BERTH_F_CHDIR_FALLBACK))
			berth_fail(errno, "--chdir=%s", st.chdir);
		if (chdir("/") < 0)
			berth_fail(errno, "chdir /");
	}
	if (peer >= 0)
		berth_take_terminal(peer);
	berth_apply_process(&st);
	berth_identity(&st);
	berth_exec(&st);
	_exit(1);
}

// berth_timer_slack is the timer slack the spawner was started with; its
// own threads sleep with BERTH_SPAWNER_TIMER_SLACK instead (see
// berth_dispatch), and it starts its processes with this one again
// (startSlack in Go), so the container never runs with the coarse one.
unsigned long berth_timer_slack;

// BERTH_SPAWNER_TIMER_SLACK is the spawner's timer slack (ns): the Go
// runtime's monitor thread naps 20 µs at a time while the spawner works,
// and on a VM each of those wakeups costs far more than the nap.
#define BERTH_SPAWNER_TIMER_SLACK 1000000

// berth_cpus is the CPU affinity the spawner was started with, which
// berth_narrow_cpus narrowed to one CPU while the Go runtime starts
// (berth_narrowed set) and berth_restore_cpus gives every thread again.
static cpu_set_t berth_cpus;
static int berth_narrowed;

// berth_narrow_cpus limits the main thread to the CPU it runs on, unless
// GOMAXPROCS is set: the Go runtime then sizes itself for one P, as the
// spawner runs (package oneproc), instead of making one per CPU, waking
// threads to keep them busy, and shrinking to one later, which flushes
// the second P's caches into fresh pages.
static void berth_narrow_cpus(void) {
	if (getenv("GOMAXPROCS") != NULL || sched_getaffinity(0, sizeof berth_cpus, &berth_cpus) < 0 || CPU_COUNT(&berth_cpus) < 2)
		return;
	int cpu = sched_getcpu();
	if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &berth_cpus))
		return;
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	berth_narrowed = sched_setaffinity(0, sizeof one, &one) == 0;
}

// berth_restore_cpus gives every thread of the process the affinity the
// spawner was started with again, pass after pass until one finds no
// thread to change (a narrowed thread may start another one meanwhile).
// Package spawn calls it from its init, before anything is started.
void berth_restore_cpus(void) {
	for (int changed = berth_narrowed; changed;) {
		changed = 0;
		DIR *d = opendir("/proc/self/task");
		if (d == NULL)
			break;
		for (struct dirent *e; (e = readdir(d)) != NULL;) {
			pid_t tid = (pid_t)atoi(e->d_name);
			cpu_set_t now;
			if (tid <= 0 || sched_getaffinity(tid, sizeof now, &now) < 0 || CPU_EQUAL(&now, &berth_cpus))
				continue;
			if (sched_setaffinity(tid, sizeof berth_cpus, &berth_cpus) == 0)
				changed = 1;
		}
		closedir(d);
	}
	berth_narrowed = 0;
}

// berth_is_test reports whether the program named argv0 is a Go test
// binary (a name ending in ".test"): it links package spawn too, but is
// no spawner, and keeps the runtime's own sizing and timer slack.
static int berth_is_test(const char *argv0) {
	const char *base = strrchr(argv0, '/');
	base = base != NULL ? base + 1 : argv0;
	size_t n = strlen(base);
	return n > 5 && strcmp(base + n - 5, ".test") == 0;
}

__attribute__((constructor)) static void berth_dispatch(int argc, char **argv, char **envp) {
	if (argc >= 2 && strcmp(argv[1], BERTH_STAGE_ARG) == 0)
		berth_stage_main();
	if (argc >= 4 && strcmp(argv[1], BERTH_STUB_ARG) == 0) {
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		berth_pid1_stub(argv + 2, envp);
	}
	// The spawner: one malloc arena, not one per runtime thread (the Go
	// side does not use malloc; cgo's thread starts would create them),
	// one CPU while the runtime starts, and a coarse timer slack, which
	// every runtime thread inherits.
	mallopt(M_ARENA_MAX, 1);
	if (argc >= 1 && berth_is_test(argv[0]))
		return;
	berth_narrow_cpus();
	int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (slack > 0 && prctl(PR_SET_TIMERSLACK, BERTH_SPAWNER_TIMER_SLACK, 0, 0, 0) == 0)
		berth_timer_slack = (unsigned long)slack;
}
