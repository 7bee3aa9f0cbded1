//go:build linux && cgo

// berthctl's early path: the one-call verbs (start, reboot, poweroff,
// terminate) run from a constructor, before the Go runtime starts. It
// sends the bus handshake, Hello and the first call in one write, reads
// the replies, prints what the Go commands print and exits with their
// codes. Anything else returns from the constructor untouched, and the
// Go program runs: other command lines, bus addresses other than one
// plain unix socket, and every failure before the bus has accepted the
// handshake (then nothing has been called yet, and the Go path does the
// whole command again and reports the failure in its own words).

#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "early.h"
#include "wire.h"

// The verbs the early path runs: the method each calls per NAME and the
// words its errors start with, as the Go commands (internal/ctl) have them.
static const struct berth_verb berth_verbs[] = {
	{"start", "dev.berth.Manager1", "StartMachine", "start", 0},
	{"reboot", "dev.berth.Manager1", "RebootMachine", "reboot", 0},
	{"poweroff", "dev.berth.Manager1", "PowerOffMachine", "power off", 1},
	{"terminate", "org.freedesktop.machine1.Manager", "TerminateMachine", "terminate", 0},
};

int berth_early_args(int argc, char **argv, struct berth_cmd *c) {
	memset(c, 0, sizeof *c);
	if (argc < 3)
		return -1;
	for (size_t i = 0; i < sizeof berth_verbs / sizeof berth_verbs[0]; i++)
		if (strcmp(argv[1], berth_verbs[i].word) == 0)
			c->verb = &berth_verbs[i];
	if (c->verb == NULL)
		return -1;
	for (int i = 2; i < argc; i++) {
		if (c->verb->force && strcmp(argv[i], "--force") == 0)
			c->force = 1;
		else if (argv[i][0] == '-' || !berth_valid_string((const unsigned char *)argv[i], strlen(argv[i])))
			return -1;
		else
			c->names++;
	}
	return c->names > 0 ? 0 : -1;
}

int berth_early_socket(const char *addr, struct sockaddr_un *sa, socklen_t *len) {
	if (addr == NULL || addr[0] == 0)
		addr = "unix:path=/var/run/dbus/system_bus_socket";
	if (strncmp(addr, "unix:", 5) != 0 || strchr(addr, ';') != NULL || strchr(addr, '%') != NULL)
		return -1;
	for (const char *kv = addr + 5;; kv++) {
		const char *end = strchrnul(kv, ',');
		const char *eq = memchr(kv, '=', (size_t)(end - kv));
		size_t klen = (size_t)((eq != NULL ? eq : end) - kv);
		int abstract = klen == 8 && strncmp(kv, "abstract", 8) == 0;
		if (abstract || (klen == 4 && strncmp(kv, "path", 4) == 0)) {
			const char *v = eq != NULL ? eq + 1 : end;
			size_t vlen = (size_t)(end - v);
			if (vlen == 0 || vlen >= sizeof sa->sun_path)
				return -1;
			memset(sa, 0, sizeof *sa);
			sa->sun_family = AF_UNIX;
			memcpy(sa->sun_path + abstract, v, vlen);
			*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + vlen + 1);
			return 0;
		}
		if (*end == 0)
			return -1;
		kv = end;
	}
}

// berth_send writes all of o and empties it.
static int berth_send(int fd, struct berth_out *o) {
	size_t off = 0;
	if (o->err) {
		errno = ENOMEM;
		return -1;
	}
	while (off < o->len) {
		ssize_t n = send(fd, o->b + off, o->len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		off += (size_t)n;
	}
	o->len = 0;
	return 0;
}

// berth_fail prints a failure of the verb for one machine as the Go path
// does ("berthctl: " and the error) and returns the exit code 1.
static int berth_fail(const struct berth_cmd *c, const char *name, const struct berth_reply *r) {
	switch (r->kind) {
	case BERTH_R_ERROR:
		if (r->has_msg)
			dprintf(2, "berthctl: %s (%s)\n", r->msg, r->name);
		else
			dprintf(2, "berthctl: %s %s: %s\n", c->verb->op, name, r->name);
		break;
	case BERTH_R_EOF:
		dprintf(2, "berthctl: %s %s: unexpected EOF\n", c->verb->op, name);
		break;
	case BERTH_R_MALFORMED:
		dprintf(2, "berthctl: %s %s: malformed D-Bus message\n", c->verb->op, name);
		break;
	default:
		dprintf(2, "berthctl: %s %s: %s\n", c->verb->op, name, strerror(r->err));
	}
	return 1;
}

int berth_early_run(const struct berth_cmd *c, int argc, char **argv, int fd) {
	struct berth_out o = {0};
	struct berth_in in = {.fd = fd};
	struct berth_reply r = {0};
	uint32_t serial = 1;
	int code = 0;
	berth_out_auth(&o, (unsigned)geteuid());
	berth_out_call(&o, serial, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", "",
		       NULL, 0);
	for (int i = 2; i < argc && code == 0; i++) {
		if (strcmp(argv[i], "--force") == 0 && c->verb->force)
			continue;
		berth_out_call(&o, ++serial, "org.freedesktop.machine1", "/org/freedesktop/machine1", c->verb->iface,
			       c->verb->member, c->verb->force ? "sb" : "s", argv[i], c->force);
		int sent = berth_send(fd, &o);
		if (serial == 2 && (sent != 0 || berth_in_auth(&in) != 0)) {
			code = -1; // nothing was called: the Go path starts over
			break;
		}
		if (sent != 0) {
			r.err = errno;
			r.kind = BERTH_R_IO;
		} else
			berth_read_reply(&in, serial, &r);
		if (r.kind != BERTH_R_RETURN)
			code = berth_fail(c, argv[i], &r);
		berth_reply_free(&r);
	}
	free(o.b);
	return code;
}

// berth_early runs the verbs it knows and exits; otherwise it returns
// and berthctl's Go program runs.
__attribute__((constructor)) static void berth_early(int argc, char **argv) {
	struct berth_cmd c;
	struct sockaddr_un sa;
	socklen_t len;
	if (berth_early_args(argc, argv, &c) != 0 || berth_early_socket(getenv("DBUS_SYSTEM_BUS_ADDRESS"), &sa, &len) != 0)
		return;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	int code = -1;
	if (connect(fd, (struct sockaddr *)&sa, len) == 0)
		code = berth_early_run(&c, argc, argv, fd);
	close(fd);
	if (code >= 0)
		_exit(code);
}
