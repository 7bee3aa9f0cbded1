//go:build linux && cgo

// The calls berthctl's early path sends: the handshake and method calls
// with string and boolean arguments, little-endian.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

// Header field codes.
enum { FIELD_PATH = 1, FIELD_INTERFACE = 2, FIELD_MEMBER = 3, FIELD_DESTINATION = 6, FIELD_SIGNATURE = 8 };

// berth_out_grow makes room for n more bytes.
static int berth_out_grow(struct berth_out *o, size_t n) {
	if (o->err)
		return -1;
	if (o->len + n <= o->cap)
		return 0;
	size_t cap = o->cap ? o->cap : 512;
	while (cap < o->len + n)
		cap *= 2;
	unsigned char *b = realloc(o->b, cap);
	if (b == NULL) {
		o->err = 1;
		return -1;
	}
	o->cap = cap;
	o->b = b;
	return 0;
}

static void berth_out_bytes(struct berth_out *o, const void *p, size_t n) {
	if (berth_out_grow(o, n) == 0) {
		memcpy(o->b + o->len, p, n);
		o->len += n;
	}
}

// berth_out_align pads with zeros to a multiple of n, counted from base.
static void berth_out_align(struct berth_out *o, size_t base, size_t n) {
	static const unsigned char zeros[8];
	size_t pad = (n - (o->len - base) % n) % n;
	berth_out_bytes(o, zeros, pad);
}

static void berth_out_u32(struct berth_out *o, size_t base, uint32_t v) {
	unsigned char b[4] = {v, v >> 8, v >> 16, v >> 24};
	berth_out_align(o, base, 4);
	berth_out_bytes(o, b, 4);
}

static void berth_out_str(struct berth_out *o, size_t base, const char *s) {
	size_t n = strlen(s);
	berth_out_u32(o, base, (uint32_t)n);
	berth_out_bytes(o, s, n + 1);
}

static void berth_out_sig(struct berth_out *o, const char *s) {
	unsigned char n = (unsigned char)strlen(s);
	berth_out_bytes(o, &n, 1);
	berth_out_bytes(o, s, (size_t)n + 1);
}

// berth_out_field appends a header field holding a string (of type t: 's'
// or 'o') or, for 'g', a signature.
static void berth_out_field(struct berth_out *o, size_t base, unsigned char code, char t, const char *v) {
	const char sig[2] = {t, 0};
	berth_out_align(o, base, 8);
	berth_out_bytes(o, &code, 1);
	berth_out_sig(o, sig);
	if (t == 'g')
		berth_out_sig(o, v);
	else
		berth_out_str(o, base, v);
}

static void berth_out_put_u32(struct berth_out *o, size_t at, uint32_t v) {
	if (!o->err) {
		unsigned char b[4] = {v, v >> 8, v >> 16, v >> 24};
		memcpy(o->b + at, b, 4);
	}
}

void berth_out_auth(struct berth_out *o, unsigned uid) {
	static const char hex[] = "0123456789abcdef";
	char dec[16], line[64];
	int n = snprintf(dec, sizeof dec, "%u", uid), k = 0;
	for (int i = 0; i < n; i++) {
		line[k++] = hex[(unsigned char)dec[i] >> 4];
		line[k++] = hex[(unsigned char)dec[i] & 15];
	}
	berth_out_bytes(o, "\0AUTH EXTERNAL ", 15);
	berth_out_bytes(o, line, (size_t)k);
	berth_out_bytes(o, "\r\nBEGIN\r\n", 9);
}

void berth_out_call(struct berth_out *o, uint32_t serial, const char *dest, const char *path, const char *iface,
		    const char *member, const char *sig, const char *str, int flag) {
	size_t base = o->len;
	static const unsigned char fixed[16] = {'l', 1, 0, 1};
	berth_out_bytes(o, fixed, sizeof fixed);
	berth_out_field(o, base, FIELD_PATH, 'o', path);
	berth_out_field(o, base, FIELD_INTERFACE, 's', iface);
	berth_out_field(o, base, FIELD_MEMBER, 's', member);
	berth_out_field(o, base, FIELD_DESTINATION, 's', dest);
	if (sig[0])
		berth_out_field(o, base, FIELD_SIGNATURE, 'g', sig);
	size_t fields = o->len - base - 16;
	berth_out_align(o, base, 8);
	size_t body = o->len;
	for (const char *t = sig; *t; t++) {
		if (*t == 's')
			berth_out_str(o, body, str);
		else
			berth_out_u32(o, body, flag != 0);
	}
	berth_out_put_u32(o, base + 4, (uint32_t)(o->len - body));
	berth_out_put_u32(o, base + 8, serial);
	berth_out_put_u32(o, base + 12, (uint32_t)fields);
}

int berth_valid_string(const unsigned char *s, size_t n) {
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t k;
		unsigned char lo = 0x80, hi = 0xBF;
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			k = 1;
		else if (c >= 0xE0 && c <= 0xEF) {
			k = 2;
			if (c == 0xE0)
				lo = 0xA0;
			if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 3;
			if (c == 0xF0)
				lo = 0x90;
			if (c == 0xF4)
				hi = 0x8F;
		} else
			return 0;
		if (n - i <= k || s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t j = 2; j <= k; j++)
			if (s[i + j] < 0x80 || s[i + j] > 0xBF)
				return 0;
		i += k + 1;
	}
	return 1;
}
