//go:build linux && cgo

// The replies berthctl's early path reads. The checks are those of Go's
// internal/dbuswire (ReadMessage, Parse, Decoder.Str): a message it
// calls malformed is malformed here too, which FuzzReadReply verifies.

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire.h"

#define MAX_ARRAY (64u << 20)
#define MAX_MESSAGE (128u << 20)
#define FIXED_HEADER 16

enum { TYPE_RETURN = 2, TYPE_ERROR = 3 };
enum { FIELD_ERROR_NAME = 4, FIELD_REPLY_SERIAL = 5, FIELD_SIGNATURE = 8, FIELD_COUNT = 10 };

// The type of each header field by code ("" for none).
static const char *const field_types[FIELD_COUNT] = {"", "o", "s", "s", "s", "u", "s", "s", "g", "u"};

int berth_in_read(struct berth_in *in, unsigned char *p, size_t n) {
	while (n > 0) {
		if (in->off == in->len) {
			ssize_t got = read(in->fd, in->buf, sizeof in->buf);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				return BERTH_R_IO;
			if (got == 0)
				return BERTH_R_EOF;
			in->off = 0;
			in->len = (size_t)got;
		}
		size_t k = in->len - in->off < n ? in->len - in->off : n;
		memcpy(p, in->buf + in->off, k);
		in->off += k, p += k, n -= k;
	}
	return 0;
}

int berth_in_auth(struct berth_in *in) {
	unsigned char line[512];
	size_t n = 0;
	for (; n < sizeof line; n++) {
		if (berth_in_read(in, line + n, 1) != 0)
			return -1;
		if (line[n] == '\n')
			break;
	}
	return n < sizeof line && n >= 3 && memcmp(line, "OK ", 3) == 0 ? 0 : -1;
}

// A decoder of marshalled values; bad sticks at the first error.
struct dec {
	const unsigned char *b;
	size_t len, off;
	int big, bad;
};

static int dec_need(struct dec *d, size_t n) {
	if (!d->bad && n > d->len - d->off)
		d->bad = 1;
	return !d->bad;
}

// dec_align skips the padding to a multiple of n, which must be zeros.
static void dec_align(struct dec *d, size_t n) {
	while (d->off % n != 0 && dec_need(d, 1)) {
		if (d->b[d->off] != 0) {
			d->bad = 1;
			return;
		}
		d->off++;
	}
}

static uint32_t get_u32(const unsigned char *p, int big) {
	if (big)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint32_t dec_u32(struct dec *d) {
	dec_align(d, 4);
	if (!dec_need(d, 4))
		return 0;
	d->off += 4;
	return get_u32(d->b + d->off - 4, d->big);
}

static unsigned char dec_byte(struct dec *d) {
	if (!dec_need(d, 1))
		return 0;
	return d->b[d->off++];
}

// dec_str reads a STRING and returns where it starts (NUL-terminated in
// place), NULL after an error.
static const char *dec_str(struct dec *d) {
	uint32_t n = dec_u32(d);
	if (!dec_need(d, (size_t)(n < MAX_MESSAGE ? n : MAX_MESSAGE) + 1))
		return NULL;
	const unsigned char *s = d->b + d->off;
	if (s[n] != 0 || !berth_valid_string(s, n)) {
		d->bad = 1;
		return NULL;
	}
	d->off += (size_t)n + 1;
	return (const char *)s;
}

static int valid_path(const char *p) {
	size_t n = strlen(p);
	if (strcmp(p, "/") == 0)
		return 1;
	if (n < 2 || p[0] != '/' || p[n - 1] == '/')
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = p[i];
		if (c == '/' ? p[i - 1] == '/' : !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

// dec_sig reads a SIGNATURE into out (at most 256 bytes with its NUL)
// and returns its length: it may hold a NUL of its own, which makes the
// message malformed where it names a type but not where it is a value.
static size_t dec_sig(struct dec *d, char out[256]) {
	out[0] = 0;
	if (!dec_need(d, 1) || !dec_need(d, (size_t)d->b[d->off] + 2))
		return 0;
	size_t n = d->b[d->off];
	if (d->b[d->off + 1 + n] != 0) {
		d->bad = 1;
		return 0;
	}
	memcpy(out, d->b + d->off + 1, n + 1);
	d->off += n + 2;
	return n;
}

// is_type reports whether the signature sig of length n is exactly t.
static int is_type(const char *sig, size_t n, const char *t) {
	return n == strlen(t) && memcmp(sig, t, n) == 0;
}

// The header fields a reply needs.
struct header {
	const char *error_name;
	uint32_t reply_serial;
	char sig[256];
};

// dec_field reads one header field into h.
static void dec_field(struct dec *d, struct header *h) {
	char sig[256];
	dec_align(d, 8);
	unsigned char code = dec_byte(d);
	size_t n = dec_sig(d, sig);
	if (d->bad)
		return;
	if (code == 0 || (code < FIELD_COUNT && !is_type(sig, n, field_types[code]))) {
		d->bad = 1;
		return;
	}
	if (is_type(sig, n, "s") || is_type(sig, n, "o")) {
		const char *s = dec_str(d);
		if (s != NULL && sig[0] == 'o' && !valid_path(s))
			d->bad = 1;
		if (code == FIELD_ERROR_NAME)
			h->error_name = s;
	} else if (is_type(sig, n, "g")) {
		dec_sig(d, code == FIELD_SIGNATURE ? h->sig : sig);
	} else if (is_type(sig, n, "u")) {
		uint32_t v = dec_u32(d);
		if (code == FIELD_REPLY_SERIAL)
			h->reply_serial = v;
	} else
		d->bad = 1;
}

// message_size returns the length of the message whose fixed header is
// head, 0 when it is malformed or longer than BERTH_MAX_REPLY.
static size_t message_size(const unsigned char head[FIXED_HEADER]) {
	if ((head[0] != 'l' && head[0] != 'B') || head[3] != 1)
		return 0;
	int big = head[0] == 'B';
	uint32_t body = get_u32(head + 4, big), fields = get_u32(head + 12, big);
	if (body > MAX_MESSAGE || fields > MAX_ARRAY)
		return 0;
	size_t n = ((FIXED_HEADER + (size_t)fields + 7) & ~(size_t)7) + body;
	return n > MAX_MESSAGE || n > BERTH_MAX_REPLY ? 0 : n;
}

// parse checks the message m of n bytes and fills h; it returns its type,
// 0 when it is malformed, and sets *body to the offset of its body.
static int parse(unsigned char *m, size_t n, struct header *h, size_t *body) {
	int big = m[0] == 'B';
	size_t end = FIXED_HEADER + get_u32(m + 12, big);
	struct dec d = {.b = m, .len = end, .off = FIXED_HEADER, .big = big};
	memset(h, 0, sizeof *h);
	if (m[1] == 0)
		return 0;
	while (d.off < end && !d.bad)
		dec_field(&d, h);
	d.len = n;
	dec_align(&d, 8);
	*body = d.off;
	return d.bad ? 0 : m[1];
}

// read_message reads one whole message into a new buffer.
static int read_message(struct berth_in *in, unsigned char **out, size_t *len) {
	unsigned char head[FIXED_HEADER];
	int rc = berth_in_read(in, head, sizeof head);
	if (rc != 0)
		return rc;
	size_t n = message_size(head);
	if (n == 0)
		return BERTH_R_MALFORMED;
	unsigned char *m = malloc(n);
	if (m == NULL) {
		errno = ENOMEM;
		return BERTH_R_IO;
	}
	memcpy(m, head, sizeof head);
	if ((rc = berth_in_read(in, m + FIXED_HEADER, n - FIXED_HEADER)) != 0) {
		free(m);
		return rc;
	}
	*out = m;
	*len = n;
	return 0;
}

// error_reply fills r from the error reply m (a string first argument is
// its message).
static void error_reply(struct berth_reply *r, unsigned char *m, size_t n, const struct header *h, size_t body) {
	r->kind = BERTH_R_ERROR;
	r->name = h->error_name != NULL ? h->error_name : "";
	if (h->sig[0] != 's')
		return;
	struct dec d = {.b = m + body, .len = n - body, .big = m[0] == 'B'};
	r->msg = dec_str(&d);
	r->has_msg = r->msg != NULL;
}

int berth_read_reply(struct berth_in *in, uint32_t serial, struct berth_reply *r) {
	memset(r, 0, sizeof *r);
	for (;;) {
		unsigned char *m;
		size_t n, body;
		struct header h;
		int rc = read_message(in, &m, &n);
		if (rc != 0) {
			r->err = errno;
			return r->kind = rc;
		}
		int type = parse(m, n, &h, &body);
		if (type == 0) {
			free(m);
			return r->kind = BERTH_R_MALFORMED;
		}
		if ((type != TYPE_RETURN && type != TYPE_ERROR) || h.reply_serial != serial) {
			free(m);
			continue;
		}
		r->msgbuf = m;
		if (type == TYPE_RETURN)
			return r->kind = BERTH_R_RETURN;
		error_reply(r, m, n, &h, body);
		return r->kind;
	}
}

void berth_reply_free(struct berth_reply *r) {
	free(r->msgbuf);
	r->msgbuf = NULL;
}
