// The D-Bus wire format as berthctl's early path speaks it: the calls it
// sends (wire_out.c) and the replies it reads (wire_in.c). Pure code over
// byte buffers and one file descriptor; no Go, no global state.

#ifndef BERTH_EARLY_WIRE_H
#define BERTH_EARLY_WIRE_H

#include <stddef.h>
#include <stdint.h>

// BERTH_MAX_REPLY bounds a message read: the replies and signals the
// early path sees are a few hundred bytes.
#define BERTH_MAX_REPLY (1u << 20)

// A growing output buffer; err sticks once an allocation failed.
struct berth_out {
	unsigned char *b;
	size_t len, cap;
	int err;
};

// berth_out_auth appends the SASL EXTERNAL handshake for uid up to BEGIN.
void berth_out_auth(struct berth_out *o, unsigned uid);

// berth_out_call appends a method call with the arguments of sig ("",
// "s" or "sb"): str is the string argument, flag the boolean.
void berth_out_call(struct berth_out *o, uint32_t serial, const char *dest, const char *path, const char *iface,
		    const char *member, const char *sig, const char *str, int flag);

// berth_valid_string reports whether the n bytes at s are UTF-8 (as Go's
// utf8.Valid has it) without NUL: what a D-Bus STRING may hold.
int berth_valid_string(const unsigned char *s, size_t n);

// A buffered reader of one descriptor.
struct berth_in {
	int fd;
	size_t off, len;
	unsigned char buf[4096];
};

// berth_in_read fills p with n bytes: 0, or BERTH_R_EOF (the stream ended
// first) or BERTH_R_IO (errno says why).
int berth_in_read(struct berth_in *in, unsigned char *p, size_t n);

// berth_in_auth reads the bus's answer to the handshake: 0 when it
// accepted ("OK " and its GUID), -1 otherwise.
int berth_in_auth(struct berth_in *in);

// What berth_read_reply found.
enum {
	BERTH_R_RETURN = 1,    // the method returned
	BERTH_R_ERROR = 2,     // an error reply: name, and msg when has_msg
	BERTH_R_EOF = 3,       // the bus hung up
	BERTH_R_MALFORMED = 4, // a message that is not D-Bus
	BERTH_R_IO = 5,        // a read error; err is its errno
};

// One reply. name and msg point into msgbuf (NUL-terminated there), which
// berth_reply_free releases.
struct berth_reply {
	int kind, err, has_msg;
	const char *name, *msg;
	unsigned char *msgbuf;
};

// berth_read_reply reads messages until the reply to serial, skipping the
// others (the Hello reply, the NameAcquired signal), and returns its kind.
int berth_read_reply(struct berth_in *in, uint32_t serial, struct berth_reply *r);

// berth_reply_free releases what berth_read_reply allocated.
void berth_reply_free(struct berth_reply *r);

#endif
