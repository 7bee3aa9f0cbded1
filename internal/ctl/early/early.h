// berthctl's early path (early.c): the command lines and bus addresses it
// takes, and the run of one command over a connected socket.

#ifndef BERTH_EARLY_H
#define BERTH_EARLY_H

#include <sys/socket.h>
#include <sys/un.h>

// A verb the early path runs: berthctl's word for it, the method it calls
// for each NAME on berthd's manager, the words its errors start with,
// and whether it takes --force (a boolean second argument).
struct berth_verb {
	const char *word, *iface, *member, *op;
	int force;
};

// A command line the early path runs.
struct berth_cmd {
	const struct berth_verb *verb;
	int force, names;
};

// berth_early_args reads argv into c: 0 for a command line the early path
// runs ("VERB NAME..." with NAMEs that are D-Bus strings and no flags but
// poweroff's --force), -1 for any other.
int berth_early_args(int argc, char **argv, struct berth_cmd *c);

// berth_early_socket fills sa and len with the socket a system bus
// address names ("" or NULL: the default): 0 for one unix socket by path
// or abstract name without escapes, -1 for addresses left to the Go path.
int berth_early_socket(const char *addr, struct sockaddr_un *sa, socklen_t *len);

// berth_early_run runs c (parsed from argv) over the connected bus socket
// fd, printing failures to stderr: the exit code, or -1 when the bus did
// not accept the handshake and nothing was called.
int berth_early_run(const struct berth_cmd *c, int argc, char **argv, int fd);

#endif
