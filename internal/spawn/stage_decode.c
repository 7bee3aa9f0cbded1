//go:build linux && cgo

// The decoder of the stage's configuration. It reads untrusted bytes in
// principle (the spawner's message), so every length is checked against
// what is left before it is used, and the fuzz target of stageconf drives
// it through checkStage.

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"

static int berth_bad(char *err, size_t errlen, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static uint32_t berth_u32(const unsigned char *p) {
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static uint64_t berth_u64(const unsigned char *p) {
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

// berth_string checks that a record is a NUL-terminated string without an
// inner NUL.
static int berth_string(const unsigned char *p, uint32_t n) {
	return n >= 1 && p[n - 1] == 0 && memchr(p, 0, n - 1) == NULL;
}

// berth_fixed checks the size of the fixed-size records.
static int berth_fixed(int tag, uint32_t n) {
	switch (tag) {
	case BERTH_TAG_FLAGS:
	case BERTH_TAG_OOM:
	case BERTH_TAG_PERSONALITY:
		return n == 4;
	case BERTH_TAG_CAPS:
		return n == 16;
	case BERTH_TAG_RLIMIT:
		return n == 20;
	case BERTH_TAG_USER:
		return n >= 8 && n % 4 == 0 && (n - 8) / 4 <= BERTH_MAX_GROUPS;
	case BERTH_TAG_AFFINITY:
		return n >= 1 && n <= BERTH_MAX_AFFINITY / 8;
	case BERTH_TAG_SECCOMP:
		return n >= 8 && n % 8 == 0 && n / 8 <= BERTH_MAX_FILTER;
	}
	return 0;
}

// berth_scan walks the records once: it checks each one's frame, counts
// the repeated ones and refuses a second single one.
static int berth_scan(const unsigned char *buf, size_t len, size_t *argc, size_t *envc, char *err, size_t errlen) {
	uint32_t seen = 0;
	size_t off = BERTH_STAGE_MAGIC_LEN;
	*argc = *envc = 0;
	while (off < len) {
		if (len - off < 5)
			return berth_bad(err, errlen, "truncated record header at %zu", off);
		int tag = buf[off];
		uint32_t n = berth_u32(buf + off + 1);
		off += 5;
		if (n > len - off)
			return berth_bad(err, errlen, "record %d: length %u beyond the message", tag, n);
		const unsigned char *p = buf + off;
		off += n;
		if (tag < 1 || tag > BERTH_TAG_MAX)
			return berth_bad(err, errlen, "unknown record %d", tag);
		int str = tag == BERTH_TAG_HOSTNAME || tag == BERTH_TAG_ARG || tag == BERTH_TAG_ENV || tag == BERTH_TAG_CHDIR;
		if (str ? !berth_string(p, n) : !berth_fixed(tag, n))
			return berth_bad(err, errlen, "record %d: bad length %u or contents", tag, n);
		if (tag == BERTH_TAG_ARG) {
			(*argc)++;
			continue;
		}
		if (tag == BERTH_TAG_ENV) {
			(*envc)++;
			continue;
		}
		if (tag == BERTH_TAG_RLIMIT)
			continue;
		if (seen & (1u << tag))
			return berth_bad(err, errlen, "record %d repeated", tag);
		seen |= 1u << tag;
	}
	if (!(seen & (1u << BERTH_TAG_FLAGS)) || !(seen & (1u << BERTH_TAG_HOSTNAME)) || *argc == 0)
		return berth_bad(err, errlen, "flags, hostname or command missing");
	return 0;
}

// berth_store puts one checked record into st.
static int berth_store(struct berth_stage *st, int tag, const unsigned char *p, uint32_t n, char *err, size_t errlen) {
	switch (tag) {
	case BERTH_TAG_FLAGS:
		st->flags = berth_u32(p);
		if (st->flags & ~(uint32_t)BERTH_F_ALL)
			return berth_bad(err, errlen, "unknown flags %#x", st->flags);
		break;
	case BERTH_TAG_HOSTNAME:
		st->hostname = (const char *)p;
		break;
	case BERTH_TAG_ARG:
		st->argv[st->argc++] = (char *)p;
		break;
	case BERTH_TAG_ENV:
		st->envp[st->envc++] = (char *)p;
		break;
	case BERTH_TAG_CHDIR:
		st->chdir = (const char *)p;
		break;
	case BERTH_TAG_USER:
		st->has_user = 1;
		st->uid = berth_u32(p);
		st->gid = berth_u32(p + 4);
		st->ngroups = (n - 8) / 4;
		st->groups = calloc(st->ngroups + 1, sizeof *st->groups);
		if (st->groups == NULL)
			return berth_bad(err, errlen, "out of memory");
		for (size_t i = 0; i < st->ngroups; i++)
			st->groups[i] = berth_u32(p + 8 + 4 * i);
		break;
	case BERTH_TAG_CAPS:
		st->caps = berth_u64(p);
		st->ambient = berth_u64(p + 8);
		if (st->ambient & ~st->caps)
			return berth_bad(err, errlen, "ambient capabilities outside the kept set");
		break;
	case BERTH_TAG_RLIMIT: {
		if (st->nrlimits == BERTH_MAX_RLIMITS)
			return berth_bad(err, errlen, "too many resource limits");
		struct berth_rlimit *l = &st->rlimits[st->nrlimits++];
		l->resource = berth_u32(p);
		l->soft = berth_u64(p + 4);
		l->hard = berth_u64(p + 12);
		if (l->resource >= BERTH_RLIMIT_RESOURCES || l->soft > l->hard)
			return berth_bad(err, errlen, "bad resource limit %u", l->resource);
		break;
	}
	case BERTH_TAG_OOM:
		st->has_oom = 1;
		st->oom = (int32_t)berth_u32(p);
		if (st->oom < -1000 || st->oom > 1000)
			return berth_bad(err, errlen, "OOM score adjustment %d out of range", st->oom);
		break;
	case BERTH_TAG_AFFINITY:
		st->affinity = p;
		st->affinity_len = n;
		break;
	case BERTH_TAG_PERSONALITY:
		st->has_personality = 1;
		st->personality = berth_u32(p);
		break;
	case BERTH_TAG_SECCOMP:
		st->filter = p;
		st->filter_len = n;
		break;
	}
	return 0;
}

int berth_stage_decode(const unsigned char *buf, size_t len, struct berth_stage *st, char *err, size_t errlen) {
	memset(st, 0, sizeof *st);
	if (len < BERTH_STAGE_MAGIC_LEN || memcmp(buf, BERTH_STAGE_MAGIC, BERTH_STAGE_MAGIC_LEN) != 0)
		return berth_bad(err, errlen, "not a stage configuration");
	if (len > BERTH_STAGE_MAX_MSG)
		return berth_bad(err, errlen, "configuration too large");
	size_t argc, envc;
	if (berth_scan(buf, len, &argc, &envc, err, errlen) < 0)
		return -1;
	st->argv = calloc(argc + 1, sizeof *st->argv);
	st->envp = calloc(envc + 1, sizeof *st->envp);
	if (st->argv == NULL || st->envp == NULL) {
		berth_stage_free(st);
		return berth_bad(err, errlen, "out of memory");
	}
	for (size_t off = BERTH_STAGE_MAGIC_LEN; off < len;) {
		int tag = buf[off];
		uint32_t n = berth_u32(buf + off + 1);
		if (berth_store(st, tag, buf + off + 5, n, err, errlen) < 0) {
			berth_stage_free(st);
			return -1;
		}
		off += 5 + (size_t)n;
	}
	return 0;
}

void berth_stage_free(struct berth_stage *st) {
	free(st->argv);
	free(st->envp);
	free(st->groups);
	memset(st, 0, sizeof *st);
}
